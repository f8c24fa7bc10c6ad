// @ts-check
/**
 * How a message is drawn: one node per message (its header, what was
 * attached, reasoning, body, note and actions), drawn again only when the
 * message changed.  A reply is drawn in the order of its parts (text as
 * sanitized markdown, reasoning folded, each tool call a card: cards.js);
 * a reply from a server that sends no parts is its content, as before.  The
 * live reply's text goes through LiveMarkdown, so a delta renders only the
 * block it grows; a part that did not change is not touched.
 */
import { drawCard } from './cards.js';
import { button, h } from './dom.js';
import { LiveMarkdown } from './livemarkdown.js';
import { showMarkdown } from './markdown.js';
import { partsOf, replyMeta } from './state.js';

/**
 * @typedef {import('./state.js').Message} Message @typedef {import('./state.js').Part} Part
 * @typedef {import('./cards.js').CardActions} CardActions
 */

const ACTION_LABELS = { retry: 'Retry', continue: 'Continue', regenerate: 'Regenerate', revert: "Revert this run's edits" };
const STATUS_NOTES = {
  interrupted: 'The reply was interrupted before it finished.',
  aborted: 'Stopped.',
};

/** What a committed reply's parts were drawn from (a tool call by its status and time). @param {Part[] | undefined | null} parts */
function partsKey(parts) {
  if (!parts) return '-';
  return parts.map((p) => (p.type === 'tool' ? `${p.call.id}:${p.call.status}:${p.call.updated_at}` : `${p.type}:${p.text.length}`)).join(',');
}

/** Whether the reasoning shows among the parts (else in the message's own fold). @param {Part[] | undefined | null} parts */
function inlineReasoning(parts) {
  return !!parts && parts.some((p) => p.type === 'reasoning');
}

/** A message's node and what it was last drawn from. */
export class MessageNode {
  /** @param {'user' | 'assistant'} role @param {Omit<CardActions, 'streamId'>} [cards] what a tool call's card may do */
  constructor(role, cards = {}) {
    this.node = h('div', `rc-message rc-${role}`);
    this.role = role;
    this.drawn = '';
    this.actionsDrawn = '';
    /** @type {'' | 'content' | 'parts'} how the live reply is drawn ('' once committed) */
    this.liveMode = '';
    /** @type {LiveMarkdown | null} */
    this.live = null;
    this.parts = new PartsBody(cards);
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
    const key = `${message.status}|${message.updated_at}|${message.content.length}|${message.error?.detail}|${partsKey(message.parts)}`;
    if (key === this.drawn) return;
    this.drawn = key;
    this.liveMode = '';
    this.live = null;
    this.cursor?.remove(); // now: JupyterLab's renderer replaces the live text a moment later
    this.node.className = `rc-message rc-${this.role} rc-status-${message.status}`;
    this.node.removeAttribute('aria-busy');
    this.node.dataset.id = message.id;
    this.drawContext(message);
    this.drawWindow(message);
    if (this.role === 'user') {
      this.body.textContent = message.content;
    } else if (partsOf(message)) {
      this.parts.clear();
      this.body.replaceChildren(this.parts.root);
      this.parts.draw(/** @type {Part[]} */ (message.parts), { live: false, epoch: 0, streamId: null });
    } else {
      showMarkdown(this.body, message.content);
    }
    this.drawReasoning(inlineReasoning(partsOf(message)) ? '' : message.reasoning || '', false);
    this.meta.textContent = this.role === 'assistant' ? replyMeta(message, localTime) : '';
    this.drawNote(message);
  }

  /**
   * The live reply: only its growing part is rendered again.  Its parts when the server sends
   * them (each tool call a card), else its content, as an older server's.
   * @param {import('./state.js').Partial} partial @param {string} streamId the stream it is read from
   */
  drawLive(partial, streamId) {
    const mode = partial.parts ? 'parts' : 'content';
    if (this.liveMode !== mode) {
      if (!this.liveMode) {
        this.drawn = '';
        this.node.className = 'rc-message rc-assistant rc-status-streaming';
        this.node.dataset.id = partial.messageId;
        this.node.setAttribute('aria-busy', 'true');
        this.meta.textContent = '';
        this.note.replaceChildren();
        this.note.hidden = true;
        this.cursor = h('span', 'rc-cursor', '▍');
        this.cursor.setAttribute('aria-hidden', 'true');
      }
      this.liveMode = mode;
      this.parts.clear();
      this.live = mode === 'content' ? new LiveMarkdown(this.body) : null;
      if (mode === 'parts') this.body.replaceChildren(this.parts.root);
    }
    if (this.live) this.live.update(partial.content, partial.epoch);
    else if (partial.parts) this.parts.draw(partial.parts, { live: true, epoch: partial.epoch, streamId });
    if (this.cursor) this.body.append(this.cursor);
    this.drawReasoning(inlineReasoning(partial.parts) ? '' : partial.reasoning, !partial.content);
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
   * @param {('retry' | 'continue' | 'regenerate' | 'revert')[]} actions
   * @param {(action: 'retry' | 'continue' | 'regenerate' | 'revert') => void} act
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

/**
 * @typedef {{key: string, live: boolean, epoch: number, node: HTMLElement, part: Part | null,
 *            streamId: string | null, markdown: LiveMarkdown | null}} Slot
 */

/** A reply's parts, one node each, in order; a part is drawn again only when it is a new object. */
export class PartsBody {
  /** @param {Omit<CardActions, 'streamId'>} cards */
  constructor(cards) {
    this.cards = cards;
    this.root = h('div', 'rc-parts');
    /** @type {Slot[]} */
    this.slots = [];
  }

  clear() {
    this.slots = [];
    this.root.replaceChildren();
  }

  /** @param {Part[]} parts @param {{live: boolean, epoch: number, streamId: string | null}} how */
  draw(parts, how) {
    parts.forEach((part, i) => {
      const key = part.type === 'tool' ? `tool:${part.call.id}` : part.type;
      let slot = this.slots[i];
      if (!slot || slot.key !== key || slot.live !== how.live || slot.epoch !== how.epoch) {
        const fresh = { key, live: how.live, epoch: how.epoch, node: h('div', `rc-part rc-part-${part.type}`),
          part: null, streamId: null, markdown: null };
        if (slot) slot.node.replaceWith(fresh.node); else this.root.append(fresh.node);
        this.slots[i] = slot = fresh;
      }
      if (slot.part === part && slot.streamId === how.streamId) return;
      slot.part = part;
      slot.streamId = how.streamId;
      this.fill(slot, part, how.live && i === parts.length - 1);
    });
    for (const extra of this.slots.splice(parts.length)) extra.node.remove();
  }

  /** @param {Slot} slot @param {Part} part @param {boolean} growing the live reply's last part */
  fill(slot, part, growing) {
    if (part.type === 'tool') {
      const card = drawCard(part, { ...this.cards, streamId: slot.streamId });
      slot.node.replaceWith(card);
      slot.node = card;
    } else if (part.type === 'reasoning') {
      if (!slot.node.firstChild) {
        const fold = /** @type {HTMLDetailsElement} */ (h('details', 'rc-reasoning'));
        fold.append(h('summary', '', 'Reasoning'), h('div', 'rc-reasoning-body'));
        slot.node.append(fold);
      }
      const fold = /** @type {HTMLDetailsElement} */ (slot.node.firstChild);
      /** @type {HTMLElement} */ (fold.lastChild).textContent = part.text;
      if (growing) fold.open = true; // live thinking shows; the user may fold it
    } else if (slot.live) {
      slot.markdown = slot.markdown || new LiveMarkdown(slot.node);
      slot.markdown.update(part.text, slot.epoch);
    } else {
      showMarkdown(slot.node, part.text);
    }
  }
}
