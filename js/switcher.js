// @ts-check
/**
 * The header's conversation switcher: a button and its menu of every
 * conversation, with a search by title.  The menu is a popup on `document.body`
 * placed under the button (position: fixed), not a child of the panel: inside
 * a notebook's output it was clipped by the output area after a few rows.  So
 * it carries the panel's key rules itself: keys stay in it (the notebook never
 * sees them), the application's shortcuts go on (shortcuts.js).
 */
import { forwardShortcut } from './shortcuts.js';

/** @typedef {{id: string, title: string, updated_at: string}} ConversationInfo */

const SHOWN = 100; // items drawn at once; the search narrows the rest
const GAP_PX = 2;

/** @param {string} tag @param {string} className @param {string} [text] */
function h(tag, className, text) {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** @param {string} iso */
function localDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? ''
    : date.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export class Switcher {
  /**
   * @param {HTMLButtonElement} opener the header's Conversations button
   * @param {{onHistory: () => void, onSwitch: (id: string) => void}} handlers
   */
  constructor(opener, handlers) {
    this.opener = opener;
    this.handlers = handlers;
    /** @type {ConversationInfo[]} */
    this.all = [];
    this.current = '';
    /** @type {string | undefined} why there is no list */
    this.problem = undefined;
    this.menu = h('div', 'rc-history-menu');
    this.menu.setAttribute('role', 'menu');
    this.menu.setAttribute('aria-label', 'Conversations');
    this.menu.setAttribute('data-lm-suppress-shortcuts', 'true');
    this.menu.hidden = true;
    this.search = /** @type {HTMLInputElement} */ (h('input', 'rc-history-search'));
    this.search.placeholder = 'Search all conversations';
    this.search.setAttribute('aria-label', 'Search conversations by title');
    this.items = h('div', 'rc-history-items');
    this.menu.append(this.search, this.items);
    document.body.append(this.menu);
    /** @type {[EventTarget, string, (event: any) => void][]} */
    this.listeners = [
      [opener, 'click', () => this.toggle()],
      [this.menu, 'keydown', (/** @type {KeyboardEvent} */ e) => { this.onKey(e); forwardShortcut(e, this.opener); e.stopPropagation(); }],
      [this.menu, 'keypress', (/** @type {KeyboardEvent} */ e) => e.stopPropagation()],
      [this.menu, 'keyup', (/** @type {KeyboardEvent} */ e) => e.stopPropagation()],
      [this.menu, 'focusout', (/** @type {FocusEvent} */ e) => this.onFocusOut(e)],
      [this.search, 'input', () => this.draw()],
      [document, 'pointerdown', (/** @type {PointerEvent} */ e) => this.onPointerDown(e)],
      [window, 'resize', () => this.close(false)],
    ];
    for (const [target, name, handler] of this.listeners) target.addEventListener(name, handler);
  }

  /** Open it (asking for the conversations) or close it. */
  toggle() {
    if (!this.menu.hidden) { this.close(false); return; }
    this.menu.hidden = false;
    this.opener.setAttribute('aria-expanded', 'true');
    this.search.value = '';
    this.all = [];
    this.items.replaceChildren(h('div', 'rc-history-note', 'Loading…'));
    this.place();
    this.handlers.onHistory();
  }

  /** Under the button, right-aligned, as tall as the window allows. */
  place() {
    const at = this.opener.getBoundingClientRect();
    const below = window.innerHeight - at.bottom - GAP_PX - 8;
    const above = at.top - GAP_PX - 8;
    const up = below < 160 && above > below;
    this.menu.style.maxHeight = `${Math.max(120, Math.min(360, up ? above : below))}px`;
    this.menu.style.right = `${Math.max(0, window.innerWidth - at.right)}px`;
    this.menu.style.top = up ? '' : `${at.bottom + GAP_PX}px`;
    this.menu.style.bottom = up ? `${window.innerHeight - at.top + GAP_PX}px` : '';
  }

  /** @param {boolean} refocus give the focus back to the Conversations button */
  close(refocus) {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.opener.setAttribute('aria-expanded', 'false');
    if (refocus) this.opener.focus();
  }

  /**
   * Every conversation, newest first, or why there are none; the one shown is checked and focused.
   * @param {{conversations: ConversationInfo[], current: string, problem?: string}} recent
   */
  show({ conversations, current, problem }) {
    if (this.menu.hidden) return; // closed before the answer came
    this.all = conversations;
    this.current = current;
    this.problem = problem;
    this.draw();
    const items = /** @type {HTMLElement[]} */ ([...this.items.querySelectorAll('.rc-history-item')]);
    (items.find((item) => item.dataset.id === current) || items[0] || this.search).focus();
  }

  /** The conversations whose title holds the search, at most SHOWN of them. */
  draw() {
    const wanted = this.search.value.trim().toLowerCase();
    const found = this.all.filter((c) => (c.title || 'Untitled').toLowerCase().includes(wanted));
    const items = found.slice(0, SHOWN).map((c) => {
      const item = /** @type {HTMLButtonElement} */ (h('button', 'rc-history-item'));
      item.type = 'button';
      item.setAttribute('role', 'menuitemradio');
      item.setAttribute('aria-checked', String(c.id === this.current));
      item.dataset.id = c.id;
      item.append(h('span', 'rc-history-title', c.title || 'Untitled'), ' ', h('span', 'rc-history-when', localDate(c.updated_at)));
      item.addEventListener('click', () => this.choose(c.id));
      return item;
    });
    const more = found.length > SHOWN ? [h('div', 'rc-history-note', `${found.length - SHOWN} more: search to narrow`)] : [];
    const none = this.problem || (this.all.length ? 'No conversation has this in its title.' : 'No conversations yet.');
    this.items.replaceChildren(...(items.length ? [...items, ...more] : [h('div', 'rc-history-note', none)]));
  }

  /** @param {string} id */
  choose(id) {
    this.close(true);
    if (id !== this.current) this.handlers.onSwitch(id);
  }

  /** Arrows, Home and End move through the list (from the search too); Escape closes it. @param {KeyboardEvent} event */
  onKey(event) {
    const items = /** @type {HTMLElement[]} */ ([...this.items.querySelectorAll('.rc-history-item')]);
    const at = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const inSearch = document.activeElement === this.search;
    const next = { ArrowDown: at + 1, ArrowUp: at - 1, ...(inSearch ? {} : { Home: 0, End: items.length - 1 }) }[event.key];
    if (event.key === 'Escape') {
      event.preventDefault();
      this.close(true);
    } else if (event.key === 'Enter' && inSearch && items.length) {
      event.preventDefault();
      items[0].click();
    } else if (next !== undefined && items.length) {
      event.preventDefault();
      items[(next + items.length) % items.length].focus();
    }
  }

  /** Tabbing out of the menu closes it. @param {FocusEvent} event */
  onFocusOut(event) {
    const to = /** @type {Node | null} */ (event.relatedTarget);
    if (to && !this.menu.contains(to) && to !== this.opener) this.close(false);
  }

  /** A click anywhere else closes it. @param {PointerEvent} event */
  onPointerDown(event) {
    const target = /** @type {Node} */ (event.target);
    if (!this.menu.hidden && !this.menu.contains(target) && !this.opener.contains(target)) this.close(false);
  }

  destroy() {
    for (const [target, name, handler] of this.listeners) target.removeEventListener(name, handler);
    this.menu.remove();
  }
}
