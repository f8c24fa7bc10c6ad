// @ts-check
/**
 * The chat's DOM: one node per message id, updated from state, never rebuilt
 * whole.  Only the live reply is rendered again as it grows (LiveMarkdown
 * keeps that linear); a committed message is rendered once per change.  The
 * scroll follows new text only while the reader is at the bottom.  Keys typed
 * in the panel stay in the panel (docs/protocol.md#keys), but for the application's
 * shortcuts (docs/protocol.md#keys, shortcuts.js).  No I/O here: user intents go out through
 * `handlers`.
 */
import { Mentions } from './attach.js';
import { LiveMarkdown, addCopyButtons, renderMarkdown } from './markdown.js';
import { contextMeter, meterText } from './meter.js';
import { forwardShortcut } from './shortcuts.js';
import { CHANGED_EVENT as SETTINGS_CHANGED, chatSettings, sends } from './settings.js';
import { Switcher } from './switcher.js';
import { composer, replyActions, replyMeta, statusText } from './state.js';

/** @typedef {import('./state.js').State} State @typedef {import('./state.js').Message} Message */
/**
 * @typedef {import('./context.js').Candidate} Candidate
 * @typedef {{onSend: (text: string, attached: Candidate[]) => void, onStop: () => void, onNew: () => void,
 *            onModel: (id: string) => void, onDismiss: () => void,
 *            onReply: (action: 'retry' | 'continue' | 'regenerate', messageId: string) => void,
 *            onMention?: (query: string) => Promise<Candidate[]>,
 *            onInsert?: (code: string) => void}} Handlers
 */
/**
 * The header's conversation switcher: `onHistory` asks for the recent conversations
 * (answered with `showConversations`), `onSwitch` shows another one in this panel.
 * @typedef {{onHistory: () => void, onSwitch: (id: string) => void}} SwitchHandlers
 * @typedef {import('./switcher.js').ConversationInfo} ConversationInfo
 */

const ACTION_LABELS = { retry: 'Retry', continue: 'Continue', regenerate: 'Regenerate' };
const STATUS_NOTES = {
  interrupted: 'The reply was interrupted before it finished.',
  aborted: 'Stopped.',
};
const FOLLOW_SLACK_PX = 40;

/** @param {string} tag @param {string} className @param {string} [text] */
function h(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** @param {string} text @param {string} className */
function button(text, className) {
  const element = /** @type {HTMLButtonElement} */ (h('button', className, text));
  element.type = 'button';
  return element;
}

/** A message's node and what it was last drawn from. */
class MessageNode {
  /** @param {'user' | 'assistant'} role */
  constructor(role) {
    this.node = h('div', `rc-message rc-${role}`);
    this.role = role;
    this.drawn = '';
    this.actionsDrawn = '';
    /** @type {LiveMarkdown | null} */
    this.live = null;
    this.reasoning = /** @type {HTMLDetailsElement} */ (h('details', 'rc-reasoning'));
    this.reasoning.append(h('summary', '', 'Reasoning'));
    this.reasoningBody = h('div', 'rc-reasoning-body');
    this.reasoning.append(this.reasoningBody);
    this.header = h('div', 'rc-role', role === 'user' ? 'You' : 'Assistant');
    this.meta = h('span', 'rc-meta');
    this.header.append(this.meta);
    this.body = h('div', 'rc-body');
    this.context = /** @type {HTMLDetailsElement} */ (h('details', 'rc-context'));
    this.context.hidden = true;
    this.window = h('div', 'rc-window');
    this.window.hidden = true;
    this.note = h('div', 'rc-note');
    this.actions = h('div', 'rc-actions');
    this.node.append(this.header, this.context, this.reasoning, this.window, this.body, this.note, this.actions);
  }

  /** What was attached to a user message, as the model saw it; folded. @param {Message} message */
  drawContext(message) {
    const items = message.context || [];
    this.context.hidden = !items.length;
    if (!items.length) return;
    const summary = h('summary', '', `Attached: ${items.map((c) => c.name).join(', ')}`);
    this.context.replaceChildren(summary, ...items.map((item) => {
      const block = h('div', 'rc-context-item');
      block.append(h('div', 'rc-context-name', `${item.kind}: ${item.name}`), h('pre', 'rc-context-text', item.content));
      return block;
    }));
  }

  /** A reply made without the oldest turns says so (docs/protocol.md#show-trust). @param {Message} message */
  drawWindow(message) {
    const omitted = message.window ? message.window.omitted : 0;
    this.window.hidden = !omitted;
    this.window.textContent = omitted
      ? `${omitted} earlier message${omitted === 1 ? ' was' : 's were'} left out to fit the model's context.` : '';
  }

  /** A committed message: drawn again only when it changed. @param {Message} message */
  draw(message) {
    const key = `${message.status}|${message.updated_at}|${message.content.length}|${message.error?.detail}`;
    if (key === this.drawn) return;
    this.drawn = key;
    this.live = null;
    this.node.className = `rc-message rc-${this.role} rc-status-${message.status}`;
    this.node.removeAttribute('aria-busy');
    this.node.dataset.id = message.id;
    this.drawContext(message);
    this.drawWindow(message);
    if (this.role === 'user') {
      this.body.textContent = message.content;
    } else {
      this.body.innerHTML = renderMarkdown(message.content);
      addCopyButtons(this.body);
    }
    this.drawReasoning(message.reasoning || '', false);
    this.meta.textContent = this.role === 'assistant' ? replyMeta(message, localTime) : '';
    this.drawNote(message);
  }

  /** The live reply: only its growing part is rendered again. @param {import('./state.js').Partial} partial */
  drawLive(partial) {
    if (!this.live) {
      this.drawn = '';
      this.node.className = 'rc-message rc-assistant rc-status-streaming';
      this.node.dataset.id = partial.messageId;
      this.node.setAttribute('aria-busy', 'true');
      this.meta.textContent = '';
      this.note.replaceChildren();
      this.note.hidden = true;
      this.live = new LiveMarkdown(this.body);
      this.cursor = h('span', 'rc-cursor', '▍');
      this.cursor.setAttribute('aria-hidden', 'true');
    }
    this.live.update(partial.content, partial.epoch);
    if (this.cursor) this.body.append(this.cursor);
    this.drawReasoning(partial.reasoning, !partial.content);
  }

  /** @param {string} text @param {boolean} open */
  drawReasoning(text, open) {
    this.reasoning.hidden = !text;
    if (this.reasoningBody.textContent !== text) this.reasoningBody.textContent = text;
    if (open) this.reasoning.open = true; // live thinking shows; the user may fold it
  }

  /** Which reply failed and why, on the reply itself (docs/protocol.md#show-trust). @param {Message} message */
  drawNote(message) {
    this.note.replaceChildren();
    if (message.status === 'error') {
      this.note.className = 'rc-note rc-note-error';
      this.note.setAttribute('role', 'note');
      this.note.append(`The model failed: ${message.error ? message.error.detail : 'unknown error'}`);
    } else if (message.status === 'interrupted' || message.status === 'aborted') {
      this.note.className = 'rc-note';
      this.note.append(STATUS_NOTES[message.status]);
    }
    this.note.hidden = !this.note.childNodes.length;
  }

  /**
   * @param {('retry' | 'continue' | 'regenerate')[]} actions
   * @param {(action: 'retry' | 'continue' | 'regenerate') => void} act
   */
  drawActions(actions, act) {
    const key = actions.join(',');
    if (key === this.actionsDrawn) return;
    this.actionsDrawn = key;
    this.actions.replaceChildren(...actions.map((action) => {
      const element = button(ACTION_LABELS[action], `rc-act rc-act-${action}`);
      element.addEventListener('click', () => act(action));
      return element;
    }));
    this.actions.hidden = !actions.length;
  }
}

/** @param {string} iso */
function localTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export class ChatView {
  /** @param {HTMLElement} el @param {Handlers & SwitchHandlers} handlers */
  constructor(el, handlers) {
    this.handlers = handlers;
    /** @type {Map<string, MessageNode>} */
    this.nodes = new Map();
    /** @type {Message | null} */
    this.announced = null;
    this.firstDraw = true;

    this.root = h('div', 'rc-panel');
    // Lumino's key bindings skip anything under this attribute: Shift+Enter,
    // Escape, single letters typed here never reach the notebook (docs/protocol.md#keys);
    // the application's shortcuts are handed on by forwardShortcut (docs/protocol.md#keys).
    this.root.setAttribute('data-lm-suppress-shortcuts', 'true');
    const header = h('div', 'rc-header');
    this.title = h('span', 'rc-title', 'Chat');
    this.picker = /** @type {HTMLSelectElement} */ (h('select', 'rc-model'));
    this.picker.setAttribute('aria-label', 'Model');
    this.picker.hidden = true;
    this.fresh = button('New conversation', 'rc-new');
    this.history = button('Conversations', 'rc-history');
    this.history.setAttribute('aria-haspopup', 'menu');
    this.history.setAttribute('aria-expanded', 'false');
    // Lumino matches a binding's `:focus` selector on the focused element itself before it looks for
    // the root's attribute (Notebook 7 reads keys in the capture phase): the focusable parts carry it too.
    this.history.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.switcher = new Switcher(/** @type {HTMLButtonElement} */ (this.history), handlers);
    header.append(this.title, this.picker, this.history, this.fresh);
    this.list = h('div', 'rc-messages');
    this.list.setAttribute('role', 'log');
    this.list.setAttribute('aria-label', 'Conversation');
    this.list.tabIndex = 0; // scrollable by keyboard
    const status = h('div', 'rc-status');
    this.statusWords = h('span', 'rc-status-text');
    this.notice = h('span', 'rc-notice');
    this.notice.setAttribute('role', 'alert');
    this.dismiss = button('Dismiss', 'rc-dismiss');
    this.dismiss.setAttribute('aria-label', 'Dismiss the notice');
    status.append(this.statusWords, this.notice, this.dismiss);
    // Screen readers hear a finished reply once, not every token (the live one is aria-busy).
    this.announcer = h('div', 'rc-sr-only');
    this.announcer.setAttribute('aria-live', 'polite');
    const form = h('div', 'rc-input');
    this.input = /** @type {HTMLTextAreaElement} */ (h('textarea', 'rc-textarea'));
    this.input.setAttribute('aria-label', 'Message');
    this.input.rows = 2;
    this.sendButton = button('Send', 'rc-send');
    this.stopButton = button('Stop', 'rc-stop');
    this.mentions = new Mentions(this.input, (query) => (handlers.onMention ? handlers.onMention(query) : Promise.resolve([])));
    this.meter = h('span', 'rc-meter');
    this.meter.hidden = true;
    /** @type {Map<string, number>} */
    this.budgets = new Map();
    status.append(this.meter);
    form.append(this.input, this.sendButton, this.stopButton);
    this.root.append(header, this.list, status, this.announcer, this.mentions.chips, form, this.mentions.popup);
    this.root.toggleAttribute('data-insert', !!handlers.onInsert);
    this.placeHint();
    el.appendChild(this.root);

    /** @type {[EventTarget, string, (event: any) => void][]} */
    this.listeners = [
      [this.root, 'keydown', (/** @type {KeyboardEvent} */ e) => { forwardShortcut(e, this.root); e.stopPropagation(); }],
      [this.root, 'keypress', (/** @type {KeyboardEvent} */ e) => e.stopPropagation()],
      [this.root, 'keyup', (/** @type {KeyboardEvent} */ e) => e.stopPropagation()],
      [this.input, 'keydown', (/** @type {KeyboardEvent} */ e) => this.onKey(e)],
      [this.input, 'input', () => { if (handlers.onMention) this.mentions.onInput(); }],
      [this.input, 'blur', () => this.mentions.close()],
      [window, SETTINGS_CHANGED, () => this.placeHint()],
      [this.list, 'click', (/** @type {MouseEvent} */ e) => this.onListClick(e)],
      [this.sendButton, 'click', () => handlers.onSend(this.input.value, [...this.mentions.attached])],
      [this.stopButton, 'click', () => handlers.onStop()],
      [this.fresh, 'click', () => handlers.onNew()],
      [this.picker, 'change', () => handlers.onModel(this.picker.value)],
      [this.dismiss, 'click', () => handlers.onDismiss()],
    ];
    for (const [target, name, handler] of this.listeners) target.addEventListener(name, handler);
  }

  /** Enter or Ctrl/Cmd+Enter sends, as the settings say (settings.js); Shift+Enter is a new line. @param {KeyboardEvent} event */
  onKey(event) {
    if (this.mentions.onKey(event)) return; // the list of mentions is open: its keys
    if (sends(event, chatSettings().sendWith)) {
      event.preventDefault();
      this.handlers.onSend(this.input.value, [...this.mentions.attached]);
    }
  }

  /** The box's hint says which key sends. */
  placeHint() {
    const send = chatSettings().sendWith === 'Enter' ? 'Enter to send, Shift+Enter for a new line'
      : 'Ctrl+Enter to send, Enter for a new line';
    this.input.placeholder = `Message (${send}${this.handlers.onMention ? ', @ to attach' : ''})`;
  }

  /** A code block's "Insert below": a new cell with the code, which nothing runs. @param {MouseEvent} event */
  onListClick(event) {
    const target = /** @type {HTMLElement} */ (event.target);
    const insert = target.closest && target.closest('.rc-insert');
    if (!insert || !this.handlers.onInsert) return;
    const code = insert.closest('pre')?.querySelector('code')?.textContent || '';
    this.handlers.onInsert(code.replace(/\n$/, ''));
  }

  /** @param {State} state */
  update(state) {
    const follow = this.firstDraw || this.atBottom();
    this.drawMessages(state);
    const tools = composer(state);
    this.root.dataset.phase = state.phase.kind;
    this.root.toggleAttribute('data-reconnecting', state.phase.kind === 'streaming' && state.phase.reconnecting > 0);
    this.sendButton.disabled = !tools.enabled;
    this.sendButton.setAttribute('aria-busy', String(tools.busy));
    this.stopButton.disabled = tools.action !== 'stop';
    this.statusWords.textContent = statusText(state);
    this.notice.textContent = state.notice || '';
    this.dismiss.hidden = !state.notice;
    this.drawMeter(state);
    this.announce(state);
    if (follow) this.list.scrollTop = this.list.scrollHeight;
    if (state.phase.kind !== 'loading') this.firstDraw = false;
  }

  atBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < FOLLOW_SLACK_PX;
  }

  /** @param {State} state */
  drawMessages(state) {
    const phase = state.phase;
    const wanted = state.messages.map((m) => m.id);
    const liveId = phase.kind === 'streaming' ? phase.partial.messageId : null;
    if (liveId) wanted.push(liveId);
    for (const [id, node] of this.nodes) {
      if (!wanted.includes(id)) { node.node.remove(); this.nodes.delete(id); }
    }
    wanted.forEach((id, index) => {
      const message = state.messages.find((m) => m.id === id);
      let node = this.nodes.get(id);
      if (!node) {
        node = new MessageNode(message ? message.role : 'assistant');
        this.nodes.set(id, node);
      }
      if (phase.kind === 'streaming' && id === liveId) node.drawLive(phase.partial);
      else if (message) node.draw(message);
      if (message && message.role === 'assistant') {
        node.drawActions(replyActions(state, message), (action) => this.handlers.onReply(action, id));
      } else {
        node.drawActions([], () => {});
      }
      if (this.list.children[index] !== node.node) this.list.insertBefore(node.node, this.list.children[index] || null);
    });
  }

  /** How full the model's context is (docs/protocol.md#show-trust). @param {State} state */
  drawMeter(state) {
    const meter = contextMeter(state.messages, this.budgets.get(this.picker.value), this.picker.hidden ? undefined : this.picker.value);
    this.meter.hidden = !meter;
    if (meter) {
      const words = meterText(meter);
      if (this.meter.textContent !== words) this.meter.textContent = words;
      this.meter.classList.toggle('rc-meter-full', meter.used >= meter.budget * 0.9);
      this.meter.title = meter.estimated ? 'Estimated: UTF-8 bytes / 4 per token' : 'As the model counted';
    }
  }

  /** @param {State} state */
  announce(state) {
    const done = state.finished;
    if (!done || done === this.announced) return;
    this.announced = done;
    const words = done.status === 'complete' ? 'Reply finished' : `Reply ${done.status}`;
    this.announcer.textContent = `${words}: ${done.content.slice(0, 300)}`;
  }

  /** @param {string} title */
  setTitle(title) { this.title.textContent = title || 'Chat'; }

  /**
   * The conversations for the switcher (switcher.js), newest first; the one shown is checked.
   * @param {{conversations: ConversationInfo[], current: string, problem?: string}} recent
   */
  showConversations(recent) { this.switcher.show(recent); }

  /** @param {{id: string, label: string, context_tokens?: number}[]} models @param {string} current */
  setModels(models, current) {
    this.budgets = new Map(models.filter((m) => m.context_tokens).map((m) => [m.id, Number(m.context_tokens)]));
    this.picker.replaceChildren(...models.map((m) => {
      const option = /** @type {HTMLOptionElement} */ (h('option', '', m.label));
      option.value = m.id;
      return option;
    }));
    this.picker.value = current;
    this.picker.hidden = models.length < 2;
  }

  /**
   * After a 202: empty the box unless the user already typed something else, and
   * drop the chips that went (one added while the message was on its way stays).
   * @param {string} sent @param {Candidate[]} [attached]
   */
  clearDraft(sent, attached = []) {
    if (this.input.value === sent) this.input.value = '';
    this.mentions.remove(attached);
    this.mentions.close();
  }

  destroy() {
    for (const [target, name, handler] of this.listeners) target.removeEventListener(name, handler);
    this.switcher.destroy();
    this.root.remove();
  }
}
