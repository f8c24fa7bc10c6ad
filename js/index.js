// @ts-check
/**
 * The ChatPanel view: talks to the server directly (fetch + SSE), so a reply
 * keeps streaming while the kernel is busy, dead or restarting. Implements
 * the resume rules of DESIGN §4; state lives in state.js, this file is DOM
 * and I/O only. `render` returns a cleanup that aborts every request.
 */
import { Api, ApiError } from './api.js';
import { addCopyButtons, renderMarkdown } from './markdown.js';
import { backoff, initial, reduce, statusText } from './state.js';

/** @param {string} tag @param {string} className @param {string} [text] */
function h(tag, className, text) {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** @param {{model: any, el: HTMLElement}} context */
function render({ model, el }) {
  const api = Api.fromPage();
  const lifetime = new AbortController();
  const signal = lifetime.signal;
  let state = initial();
  let request = 0;
  let attaching = /** @type {string | null} */ (null);
  // Other views of the conversation (this tab or others) learn of a send at once, without polling.
  const channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel('jupyter-resumechat');

  const root = h('div', 'rc-panel');
  const header = h('div', 'rc-header');
  const title = h('span', 'rc-title', 'Chat');
  const picker = /** @type {HTMLSelectElement} */ (h('select', 'rc-model'));
  picker.title = 'Model';
  const fresh = h('button', 'rc-new', 'New conversation');
  header.append(title, picker, fresh);
  const list = h('div', 'rc-messages');
  list.setAttribute('aria-live', 'polite');
  const status = h('div', 'rc-status');
  const statusWords = h('span', 'rc-status-text');
  const action = /** @type {HTMLButtonElement} */ (h('button', 'rc-action'));
  status.append(statusWords, action);
  const form = h('div', 'rc-input');
  const input = /** @type {HTMLTextAreaElement} */ (h('textarea', 'rc-textarea'));
  input.placeholder = 'Message (Enter to send, Shift+Enter for a new line)';
  input.rows = 2;
  const sendButton = /** @type {HTMLButtonElement} */ (h('button', 'rc-send', 'Send'));
  const stopButton = /** @type {HTMLButtonElement} */ (h('button', 'rc-stop', 'Stop'));
  form.append(input, sendButton, stopButton);
  root.append(header, list, status, form);
  el.appendChild(root);

  /** @param {any} event */
  function dispatch(event) {
    state = reduce(state, event);
    paint();
  }

  function paint() {
    list.replaceChildren(...state.messages.map((m) => bubble(m.role, m.content, m.status, false)));
    if (state.partial) list.append(bubble('assistant', state.partial.content, 'streaming', true));
    list.scrollTop = list.scrollHeight;
    const busy = state.phase === 'streaming' || state.phase === 'reconnecting';
    sendButton.disabled = busy || state.sending || state.phase === 'loading';
    stopButton.disabled = !busy || !state.streamId;
    statusWords.textContent = statusText(state);
    root.dataset.phase = state.phase;
    const last = state.messages[state.messages.length - 1];
    const offer = state.phase === 'error' ? 'Retry'
      : state.phase === 'idle' && last && last.role === 'assistant'
        ? ({ interrupted: 'Continue', error: 'Retry', aborted: '' })[last.status] || '' : '';
    action.textContent = offer;
    action.hidden = !offer;
  }

  /** @param {string} role @param {string} content @param {string} messageStatus @param {boolean} live */
  function bubble(role, content, messageStatus, live) {
    const item = h('div', `rc-message rc-${role} rc-status-${messageStatus}`);
    item.append(h('div', 'rc-role', role === 'user' ? 'You' : 'Assistant'));
    const body = h('div', 'rc-body');
    if (role === 'user') {
      body.textContent = content;
    } else {
      body.innerHTML = renderMarkdown(content);
      addCopyButtons(body);
      if (live) body.append(h('span', 'rc-cursor', '▍'));
    }
    item.append(body);
    return item;
  }

  /** Conversation id: the synced one, else get-or-create by the kernel's key. */
  async function conversationId() {
    let cid = model.get('conversation_id');
    if (!cid) {
      const key = model.get('conversation_key') || undefined;
      const made = await api.conversation(key ? { key } : {}, signal);
      cid = made.id;
      model.set('conversation_id', cid);
      model.save_changes();
    }
    return cid;
  }

  /** Rule 1: messages and stream status together; attach if a stream is active. */
  async function load() {
    const mine = ++request;
    dispatch({ type: 'load', request: mine });
    try {
      const cid = await conversationId();
      const [messages, streamStatus] = await Promise.all([api.messages(cid, signal), api.status(cid, signal)]);
      dispatch({ type: 'loaded', request: mine, messages: messages.messages, status: streamStatus });
      if (mine === request && state.streamId) attach(state.streamId);
    } catch (error) {
      if (!signal.aborted && mine === request) dispatch({ type: 'failed', detail: describe(error) });
    }
  }

  /** Read a stream until its final, reconnecting with the last id (rule 2). */
  async function attach(/** @type {string} */ sid) {
    if (attaching === sid) return;
    attaching = sid;
    try {
      while (!signal.aborted && state.streamId === sid) {
        try {
          let first = true;
          for await (const sse of api.events(sid, state.lastId, signal)) {
            if (first) { dispatch({ type: 'connected' }); first = false; }
            dispatch({ type: 'sse', event: sse });
            if (sse.event === 'final') return;
          }
          throw new Error('the stream ended early');
        } catch (error) {
          if (signal.aborted) return;
          if (error instanceof ApiError && error.status === 404) { // rule 3: quietly reload
            dispatch({ type: 'gone' });
            attaching = null;
            load();
            return;
          }
          if (error instanceof ApiError && error.status < 500) {
            dispatch({ type: 'failed', detail: describe(error) });
            return;
          }
          dispatch({ type: 'network-error' });
          await new Promise((resolve) => setTimeout(resolve, backoff(state.attempt)));
        }
      }
    } finally {
      if (attaching === sid) attaching = null;
    }
  }

  /** @param {string} text */
  async function send(text) {
    if (!text.trim() || state.sending) return;
    dispatch({ type: 'sending' });
    try {
      const cid = await conversationId();
      const body = { content: text, client_id: crypto.randomUUID(), model: model.get('model') || undefined };
      const result = await api.send(cid, body, signal);
      input.value = '';
      dispatch({ type: 'sent', result });
      channel?.postMessage({ type: 'started', conversation_id: cid, stream_id: result.stream_id });
      attach(result.stream_id);
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 409) { load(); return; } // someone else's reply runs
      dispatch({ type: 'failed', detail: describe(error) });
    }
  }

  async function stop() {
    if (!state.streamId) return;
    try { await api.abort(state.streamId, signal); } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) dispatch({ type: 'failed', detail: describe(error) });
    }
  }

  async function loadModels() {
    try {
      const models = await api.models(signal);
      picker.replaceChildren(...models.models.map((/** @type {any} */ m) => {
        const option = /** @type {HTMLOptionElement} */ (h('option', '', m.label));
        option.value = m.id;
        return option;
      }));
      picker.value = model.get('model') || models.default;
    } catch (_) { picker.hidden = true; }
  }

  /** @param {any} error */
  function describe(error) {
    return error instanceof ApiError ? error.message : String(error && error.message || error);
  }

  function lastUserText() {
    const users = state.messages.filter((m) => m.role === 'user');
    return users.length ? users[users.length - 1].content : '';
  }

  const onKey = (/** @type {KeyboardEvent} */ event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(input.value);
    }
  };
  const onSend = () => send(input.value);
  const onAction = () => {
    if (action.textContent === 'Continue') send('Please continue from where you stopped.');
    else if (state.phase === 'error' && !state.messages.length) load();
    else if (state.phase === 'error') { dispatch({ type: 'dismiss' }); if (!state.streamId) send(lastUserText()); }
    else send(lastUserText());
  };
  const onNew = async () => {
    try {
      const made = await api.conversation({}, signal);
      model.set('conversation_key', '');
      model.set('conversation_id', made.id);
      model.save_changes();
    } catch (error) { dispatch({ type: 'failed', detail: describe(error) }); }
  };
  const onModel = () => { model.set('model', picker.value); model.save_changes(); };
  const onConversation = () => { state = initial(); load(); };
  const onCustom = (/** @type {any} */ message) => { if (message && message.type === 'refresh') load(); };
  const onBroadcast = (/** @type {MessageEvent} */ event) => {
    const data = event.data || {};
    if (data.type === 'started' && data.conversation_id === model.get('conversation_id')
        && data.stream_id !== state.streamId) load();
  };
  channel?.addEventListener('message', onBroadcast);

  /** @type {[EventTarget, string, (event: any) => void][]} */
  const listeners = [[input, 'keydown', onKey], [sendButton, 'click', onSend], [stopButton, 'click', stop],
    [action, 'click', onAction], [fresh, 'click', onNew], [picker, 'change', onModel]];
  for (const [target, name, handler] of listeners) target.addEventListener(name, handler);
  model.on('change:conversation_id', onConversation);
  model.on('msg:custom', onCustom);
  title.textContent = model.get('title') || 'Chat';

  paint();
  loadModels();
  load();

  return () => {
    lifetime.abort();
    channel?.close();
    model.off('change:conversation_id', onConversation);
    model.off('msg:custom', onCustom);
    for (const [target, name, handler] of listeners) target.removeEventListener(name, handler);
    root.remove();
  };
}

export default { render };
