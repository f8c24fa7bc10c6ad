// @ts-check
/**
 * `@` mentions in the composer: typing `@` and a few letters lists what can
 * be attached (errors, variables, cells, files; context.js finds them);
 * choosing one (click, Enter or Tab) turns the mention into a chip above the
 * box.  The chips go with the next message and are cleared once it is
 * accepted.  While the list is open, Enter chooses instead of sending.
 */

/** @typedef {import('./context.js').Candidate} Candidate */

const MENTION = /(^|\s)@([^\s@]*)$/;

/** @param {string} tag @param {string} className @param {string} [text] */
function h(tag, className, text) {
  const element = document.createElement(tag);
  element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

export class Mentions {
  /**
   * @param {HTMLTextAreaElement} input
   * @param {(query: string) => Promise<Candidate[]>} find
   */
  constructor(input, find) {
    this.input = input;
    this.find = find;
    /** @type {Candidate[]} */
    this.attached = [];
    /** @type {Candidate[]} */
    this.shown = [];
    this.active = 0;
    this.asked = 0;
    this.chips = h('div', 'rc-chips');
    this.chips.setAttribute('aria-label', 'Attached to the next message');
    this.chips.hidden = true;
    this.popup = h('ul', 'rc-mentions');
    this.popup.setAttribute('role', 'listbox');
    this.popup.setAttribute('aria-label', 'Attach');
    this.popup.hidden = true;
    this.popup.addEventListener('mousedown', (event) => event.preventDefault()); // keep the box's focus
    this.popup.addEventListener('click', (event) => {
      const item = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (event.target).closest('li'));
      if (item) this.choose(Number(item.dataset.index));
    });
  }

  get open() { return !this.popup.hidden; }

  /** The text changed: show what the mention before the caret completes to. */
  async onInput() {
    const before = this.input.value.slice(0, this.input.selectionStart ?? this.input.value.length);
    const mention = MENTION.exec(before);
    if (!mention) { this.close(); return; }
    const mine = ++this.asked;
    const found = await this.find(mention[2]);
    if (mine !== this.asked) return; // a newer keystroke asked again
    const attached = new Set(this.attached.map((c) => c.ref));
    this.shown = found.filter((c) => !attached.has(c.ref));
    this.active = 0;
    this.draw();
  }

  /** Keys while the list is open; true when the key was for the list. @param {KeyboardEvent} event */
  onKey(event) {
    if (!this.open || event.isComposing || event.keyCode === 229) return false; // an IME's keys are its own
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      const step = event.key === 'ArrowDown' ? 1 : -1;
      this.active = (this.active + step + this.shown.length) % this.shown.length;
      this.draw();
    } else if (event.key === 'Enter' || event.key === 'Tab') {
      this.choose(this.active);
    } else if (event.key === 'Escape') {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  /** @param {number} index */
  choose(index) {
    const candidate = this.shown[index];
    if (!candidate) return;
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, caret).replace(MENTION, '$1');
    this.input.value = before + this.input.value.slice(caret);
    this.input.selectionStart = this.input.selectionEnd = before.length;
    this.add(candidate);
    this.close();
    this.input.focus();
  }

  /** @param {Candidate} candidate */
  add(candidate) {
    if (!this.attached.some((c) => c.ref === candidate.ref)) this.attached.push(candidate);
    this.drawChips();
  }

  /** @param {Candidate[]} sent */
  remove(sent) {
    const gone = new Set(sent.map((c) => c.ref));
    this.attached = this.attached.filter((c) => !gone.has(c.ref));
    this.drawChips();
  }

  close() {
    this.asked++;
    this.shown = [];
    this.popup.hidden = true;
    this.input.removeAttribute('aria-activedescendant');
  }

  draw() {
    this.popup.replaceChildren(...this.shown.map((c, i) => {
      const item = h('li', `rc-mention rc-mention-${c.kind}`);
      item.id = `rc-mention-${i}`;
      item.dataset.index = String(i);
      item.setAttribute('role', 'option');
      item.setAttribute('aria-selected', String(i === this.active));
      item.append(h('span', 'rc-mention-label', c.label), h('span', 'rc-mention-detail', c.detail));
      return item;
    }));
    this.popup.hidden = !this.shown.length;
    if (this.shown.length) this.popup.children[this.active]?.scrollIntoView?.({ block: 'nearest' });
  }

  drawChips() {
    this.chips.replaceChildren(...this.attached.map((c) => {
      const chip = h('span', `rc-chip rc-chip-${c.kind}`);
      chip.title = c.detail;
      const remove = /** @type {HTMLButtonElement} */ (h('button', 'rc-chip-remove', '×'));
      remove.type = 'button';
      remove.setAttribute('aria-label', `Remove ${c.label}`);
      remove.addEventListener('click', () => {
        this.attached = this.attached.filter((a) => a.ref !== c.ref);
        this.drawChips();
      });
      chip.append(`@${c.label}`, remove);
      return chip;
    }));
    this.chips.hidden = !this.attached.length;
  }
}
