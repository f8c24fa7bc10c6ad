// @ts-check
/**
 * The chat's DOM: one node per message id (reply.js draws each), updated
 * from state, never rebuilt whole.  Only the live reply is rendered again as
 * it grows; a committed message is rendered once per change.  The
 * scroll follows new text only while the reader is at the bottom.  Keys typed
 * in the panel stay in the panel (docs/protocol.md#keys), but for the application's
 * shortcuts (docs/protocol.md#keys, shortcuts.js).  No I/O here: user intents go out through
 * `handlers`.
 */
import { AgentControls } from './agentmode.js';
import { Mentions } from './attach.js';
import { button, h } from './dom.js';
import { contextMeter, meterText } from './meter.js';
import { headerButton, nativeHeader } from './native.js';
import { MessageNode } from './reply.js';
import { forwardShortcut } from './shortcuts.js';
import { CHANGED_EVENT as SETTINGS_CHANGED, chatSettings, sends } from './settings.js';
import { Switcher } from './switcher.js';
import { composer, replyActions, statusText } from './state.js';

/** @typedef {import('./state.js').State} State @typedef {import('./state.js').Message} Message */
/** @typedef {import('./cards.js').CardActions} CardActions */
/**
 * @typedef {import('./context.js').Candidate} Candidate
 * @typedef {{onSend: (text: string, attached: Candidate[]) => void, onStop: () => void, onNew: () => void,
 *            onModel: (id: string) => void, onDismiss: () => void,
 *            onReply: (action: 'retry' | 'continue' | 'regenerate' | 'revert', messageId: string) => void,
 *            canRevert?: (message: import('./state.js').Message) => boolean,
 *            onMention?: (query: string) => Promise<Candidate[]>,
 *            onInsert?: (code: string) => void, onAgent?: (on: boolean) => void,
 *            onTools?: () => Promise<import('./agentmode.js').ToolInfo[]>} & Omit<CardActions, 'streamId'>} Handlers
 *   `onDecide`, `onRunAgain`, `cellSource`, `clientId`: what a tool call's card may do and say (cards.js);
 *   `onAgent`, `onTools`: agent mode's toggle and its Tools menu (agentmode.js; none without `onAgent`).
 */
/**
 * The header's conversation switcher: `onHistory` asks for the recent conversations
 * (answered with `showConversations`), `onSwitch` shows another one in this panel.
 * @typedef {{onHistory: () => void, onSwitch: (id: string) => void}} SwitchHandlers
 * @typedef {import('./switcher.js').ConversationInfo} ConversationInfo
 */

const FOLLOW_SLACK_PX = 40;

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
    // Inside JupyterLab: toolbar buttons with its icons, the header a jp-Toolbar (native.js).
    const fresh = headerButton('New conversation', 'rc-new', 'new');
    const history = headerButton('Conversations', 'rc-history', 'history');
    this.fresh = fresh.button;
    this.history = history.button;
    if (nativeHeader()) {
      header.classList.add('jp-Toolbar', 'rc-toolbar');
      this.picker.classList.add('jp-mod-styled');
    }
    this.history.setAttribute('aria-haspopup', 'menu');
    this.history.setAttribute('aria-expanded', 'false');
    // Lumino matches a binding's `:focus` selector on the focused element itself before it looks for
    // the root's attribute (Notebook 7 reads keys in the capture phase): the focusable parts carry it too.
    this.history.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.switcher = new Switcher(/** @type {HTMLButtonElement} */ (this.history), handlers);
    header.append(this.title, this.picker, history.item, fresh.item);
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
    this.agent = new AgentControls(handlers);
    form.append(this.agent.root, this.input, this.sendButton, this.stopButton);
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
        node = new MessageNode(message ? message.role : 'assistant',
          { onDecide: this.handlers.onDecide, cellSource: this.handlers.cellSource,
            onRunAgain: this.handlers.onRunAgain, clientId: this.handlers.clientId });
        this.nodes.set(id, node);
      }
      if (phase.kind === 'streaming' && id === liveId) node.drawLive(phase.partial, phase.streamId);
      else if (message) node.draw(message);
      if (message && message.role === 'assistant') {
        // Revert: the page edits this page made for the reply (pagecalls.js), when it has them
        const revert = phase.kind !== 'streaming' && this.handlers.canRevert?.(message) ? ['revert'] : [];
        node.drawActions([...replyActions(state, message), .../** @type {['revert'] | []} */ (revert)],
          (action) => this.handlers.onReply(action, id));
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
