// @ts-check
/**
 * One chat's session with the server: loads, attaches to a live stream,
 * sends, stops, retries and continues, following the resume rules of docs/protocol.md#client-rules.
 * It owns the state (state.js) and tells `onChange` after every step; it
 * knows no DOM.  The `host` says which conversation it is: an anywidget model
 * in a kernel, or a kernel-free view.  About 340 lines: every rule's step is
 * here (load, its retry and its recheck, attach, send, stop, decide) because
 * each one changes `request` or `attached`, which the others read; split, they
 * would share those as mutable state across modules.
 */
import { ApiError, newId } from './api.js';
import { composer, initial, reduce } from './state.js';

/**
 * @typedef {{conversationId: () => string, setConversationId: (id: string) => void,
 *            key: () => string, model: () => string, agent?: () => boolean,
 *            context?: import('./context.js').ContextSource}} Host
 *   `agent()`: the conversation is in agent mode: a message is sent with `tools: "all"`.
 */

const CHANNEL = 'jupyter-resumechat';

export class ChatSession {
  /**
   * @param {import('./api.js').Api} api @param {Host} host
   * @param {(state: import('./state.js').State) => void} onChange
   * @param {{onTitle?: (title: string) => void, onStarted?: (result: any) => void}} [hooks]
   *   `onStarted`: a send of this session was accepted (the 202's body), before its stream is read.
   */
  constructor(api, host, onChange, hooks = {}) {
    this.api = api;
    this.host = host;
    this.onChange = onChange;
    this.hooks = hooks;
    this.lifetime = new AbortController();
    this.state = initial();
    this.request = 0;
    /** @type {string | null} */
    this.attached = null;
    this.failures = 0; // loads that failed in a row
    this.replaced = false; // a conversation found gone was replaced once already
    this.known = ''; // the conversation this session loaded (a host change to another restarts it)
    this.draft = { text: '', id: newId() }; // one client_id per draft: a re-send is safe
    // Other views of the conversation (this tab or others) learn of a send at once, without polling.
    this.channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL);
    this.onBroadcast = (/** @type {MessageEvent} */ event) => {
      const data = event.data || {};
      if (data.type === 'started' && data.conversation_id === this.host.conversationId()) this.load();
    };
    this.channel?.addEventListener('message', this.onBroadcast);
  }

  get signal() { return this.lifetime.signal; }

  /** @param {any} event */
  dispatch(event) {
    this.state = reduce(this.state, event);
    this.onChange(this.state);
  }

  /** The conversation's id: the host's, else get-or-create by its key. */
  async conversationId() {
    let cid = this.host.conversationId();
    if (!cid) {
      const key = this.host.key();
      const made = await this.api.conversation(key ? { key } : {}, this.signal);
      cid = made.id;
      this.known = cid;
      this.host.setConversationId(cid);
    }
    this.known = cid;
    return cid;
  }

  /** Rule 1: messages and stream status together; attach if a stream is active. */
  async load() {
    const mine = ++this.request;
    this.dispatch({ type: 'load', request: mine });
    try {
      const cid = await this.conversationId();
      const [messages, status] = await Promise.all([this.api.messages(cid, this.signal), this.api.status(cid, this.signal)]);
      this.dispatch({ type: 'loaded', request: mine, messages: messages.messages, status });
      this.attach();
      this.refreshTitle(cid);
      this.failures = 0;
      this.recheck(mine, messages.messages, status);
    } catch (error) {
      if (this.signal.aborted) return;
      if (error instanceof ApiError && error.status === 404 && this.known && !this.replaced) {
        // the conversation is gone (deleted, a reset database, a notebook from another server):
        // start again, by the host's key if it has one, rather than stay broken
        this.replaced = true;
        this.known = '';
        this.host.setConversationId('');
        this.load();
        return;
      }
      this.dispatch({ type: 'load-failed', request: mine, detail: describe(error) });
      this.retryLoad(mine, error);
    }
  }

  /**
   * A status that contradicts the messages: the last reply is `streaming` but no stream is
   * active. Its server died (or restarted, and a run waiting for a decision lost its stream
   * with it), and until a server takes it up (within the owner lease) there is nothing to
   * read. Not the idle case of rule 5 (nothing runs: ask once): ask again, slowly (1 s, 2 s…
   * up to 15 s), and load as soon as it has a stream, or every minute in case it ended.
   * @param {number} mine @param {import('./state.js').Message[]} messages @param {any} status
   */
  recheck(mine, messages, status) {
    const last = messages[messages.length - 1];
    if (status?.active || !last || last.role !== 'assistant' || last.status !== 'streaming') return;
    const cid = this.host.conversationId();
    let tries = 0;
    let waited = 0;
    const look = async () => {
      if (this.signal.aborted || mine !== this.request) return; // superseded: that load looks again
      try {
        const now = await this.api.status(cid, this.signal);
        if (mine !== this.request) return;
        if (now.active || waited >= 60000) { this.load(); return; }
      } catch (_) { /* down still: look again */ }
      tries += 1;
      const delay = Math.min(15000, 1000 * 2 ** Math.min(tries, 4));
      waited += delay;
      setTimeout(look, delay);
    };
    setTimeout(look, 1000);
  }

  /**
   * A server that is down or misconfigured (503, or unreachable) is asked again,
   * slowly (5 s, 10 s… up to a minute), until it answers; the detail shows meanwhile.
   * @param {number} mine @param {any} error
   */
  retryLoad(mine, error) {
    if (error instanceof ApiError && error.status !== 503) return;
    this.failures = (this.failures || 0) + 1;
    const delay = Math.min(60000, 5000 * 2 ** (this.failures - 1));
    setTimeout(() => { if (!this.signal.aborted && mine === this.request) this.load(); }, delay);
  }

  /** Read the current stream to its final; the reconnect policy is the Api's. */
  async attach() {
    const phase = this.state.phase;
    if (phase.kind !== 'streaming' || this.attached === phase.streamId) return;
    const sid = phase.streamId;
    this.attached = sid;
    const current = () => (this.state.phase.kind === 'streaming' && this.state.phase.streamId === sid
      ? this.state.phase : null);
    try {
      const end = await this.api.follow(sid, {
        lastId: () => current()?.lastId ?? null,
        onEvent: (sse) => this.dispatch({ type: 'sse', streamId: sid, event: sse }),
        onReconnect: () => this.dispatch({ type: 'reconnecting', streamId: sid }),
        keepGoing: () => current() !== null,
        signal: this.signal,
      });
      if (end === 'gone' && current()) { // rule 3: quietly reload
        this.dispatch({ type: 'gone' });
        this.attached = null;
        this.load();
      } else if (end === 'final') {
        this.refreshTitle(this.host.conversationId());
      }
    } catch (error) { // refused (403 after a logout…): say so, and show what the server holds
      if (this.signal.aborted) return;
      this.dispatch({ type: 'notice', detail: describe(error) });
      if (current()) {
        this.dispatch({ type: 'gone' });
        this.attached = null;
        this.load();
      }
    } finally {
      if (this.attached === sid) this.attached = null;
    }
  }

  /**
   * Send the draft with what is attached (read now: a cell as it is, a variable
   * from the kernel; what cannot be read is said, and the rest is sent).
   * Resolves true on a 202 (the view may clear the box); anything else leaves
   * the phase sendable and the draft where it is (docs/protocol.md#no-stuck-state).
   * @param {string} text @param {import('./context.js').Candidate[]} [attached]
   */
  async send(text, attached = []) {
    if (!text.trim()) return false;
    if (!composer(this.state).enabled) {
      if (this.state.phase.kind === 'streaming') {
        this.dispatch({ type: 'notice', detail: 'A reply is streaming: press Stop or wait. Your message stays in the box.' });
      }
      return false;
    }
    if (text !== this.draft.text) this.draft = { text, id: newId() };
    const body = { content: text, client_id: this.draft.id, model: this.host.model() || undefined,
      tools: this.host.agent?.() ? 'all' : undefined };
    const source = this.host.context;
    const prepare = attached.length && source ? async () => {
      const { items, problems } = await source.resolve(attached);
      return { fields: items.length ? { context: items } : {}, problems };
    } : undefined;
    const accepted = await this.post('message', body, prepare);
    if (accepted) this.draft = { text: '', id: newId() };
    return accepted;
  }

  /**
   * Retry (regenerate) or continue the latest reply, in place (docs/protocol.md#send).
   * @param {'retry' | 'continue' | 'regenerate'} action @param {string} messageId
   */
  async again(action, messageId) {
    const what = action === 'continue' ? 'continue' : 'regenerate';
    return this.post(what, { [what]: messageId, client_id: newId(), model: this.host.model() || undefined });
  }

  /**
   * @param {'message' | 'regenerate' | 'continue'} what @param {any} body
   * @param {() => Promise<{fields: any, problems: string[]}>} [prepare] more of the body, read once sending
   */
  async post(what, body, prepare) {
    this.dispatch({ type: 'sending', what });
    const mine = ++this.request; // a load answered before this send cannot undo it (rule 5)
    try {
      const cid = await this.conversationId();
      const extra = prepare ? await prepare() : { fields: {}, problems: [] };
      const result = await this.api.send(cid, { ...body, ...extra.fields }, this.signal);
      if (cid !== this.host.conversationId()) return true; // the view moved on to another conversation
      this.hooks.onStarted?.(result);
      this.dispatch({ type: 'sent', result, request: mine });
      if (extra.problems.length) this.dispatch({ type: 'notice', detail: `Sent without some context: ${extra.problems.join('; ')}` });
      this.channel?.postMessage({ type: 'started', conversation_id: cid, stream_id: result.stream_id });
      this.attach();
      return true;
    } catch (error) {
      if (this.signal.aborted) return false;
      this.dispatch({ type: 'refused', detail: refusal(error, what) });
      if (error instanceof ApiError && error.status === 409) this.load(); // show the reply that runs
      return false;
    }
  }

  /**
   * A page call whose outcome is unknown, asked for again: a new user message naming the call
   * (`/tool NAME {arguments}`, the line the demo agent reads), offering only that tool.  Not a
   * Continue: a continued reply must not repeat a call by itself (docs/protocol.md#agent-runs, 4).
   * @param {import('./state.js').ToolCall} call
   */
  async runAgain(call) {
    if (!composer(this.state).enabled) return false;
    const content = `Its outcome was unknown (the page running it went away); run this call again:\n/tool ${call.name} ${JSON.stringify(call.arguments ?? {})}`;
    return this.post('message', { content, client_id: newId(), model: this.host.model() || undefined, tools: [call.name] });
  }

  async stop() {
    const phase = this.state.phase;
    if (phase.kind !== 'streaming') return;
    try {
      const message = await this.api.abort(phase.streamId, this.signal);
      this.dispatch({ type: 'ended', message }); // even if the stream's final never reaches us
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404) && !this.signal.aborted) {
        this.dispatch({ type: 'notice', detail: `Could not stop the reply: ${describe(error)}` });
      }
    }
  }

  /**
   * Approve or deny a tool call.  Resolves true once the server has the decision, or had another
   * first (409: the first decision wins everywhere, and the call's `tool` event shows which);
   * false when it could not be sent, said as a notice.
   * @param {string} sid @param {string} callId @param {import('./cards.js').Decision} decision
   */
  async decide(sid, callId, decision) {
    try {
      await this.api.decide(sid, callId, decision, this.signal);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) return true;
      if (!this.signal.aborted) this.dispatch({ type: 'notice', detail: `Could not send the decision: ${describe(error)}` });
      return false;
    }
  }

  dismiss() { this.dispatch({ type: 'dismiss' }); }

  /**
   * Every conversation, newest first, for the panel's switcher (it searches them all), and the one
   * shown; never throws (a failure is the `problem` to show in the list).
   * @returns {Promise<{conversations: import('./view.js').ConversationInfo[], current: string, problem?: string}>}
   */
  async recent() {
    const current = this.host.conversationId();
    try {
      return { conversations: await this.api.allConversations(this.signal), current };
    } catch (error) {
      return { conversations: [], current, problem: describe(error) };
    }
  }

  /** A new conversation was chosen: start over. */
  restart() {
    this.request++;
    this.known = '';
    this.attached = null;
    this.state = initial();
    this.load();
  }

  /** @param {string} cid */
  async refreshTitle(cid) {
    if (!cid || !this.hooks.onTitle) return;
    try {
      const conversation = await this.api.getConversation(cid, this.signal);
      if (cid === this.host.conversationId()) this.hooks.onTitle(conversation.title || '');
    } catch (_) { /* the title is a nicety: the next load tries again */ }
  }

  dispose() {
    this.lifetime.abort();
    this.channel?.removeEventListener('message', this.onBroadcast);
    this.channel?.close();
  }
}

/** @param {any} error */
export function describe(error) {
  return error instanceof ApiError ? error.message : String((error && error.message) || error);
}

/**
 * What the user reads when a send is refused; the draft stays in the box.
 * @param {any} error @param {'message' | 'regenerate' | 'continue'} what
 */
function refusal(error, what) {
  const kept = what === 'message' ? ' Your message is kept.' : '';
  if (!(error instanceof ApiError)) return `Could not reach the server (${describe(error)}).${kept}`;
  if (error.status === 409) return `Another reply is streaming in this conversation.${kept}`;
  if (error.status === 413) return `Too long: ${error.message}.${kept}`;
  if (error.status === 503) return `The chat is unavailable: ${error.message}.${kept}`;
  return `${error.message}.${kept}`;
}
