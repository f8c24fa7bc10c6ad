// @ts-check
/**
 * A reply's markdown while it streams, rendered in time linear in its length
 * (markdown.js renders a finished text whole; this keeps the finished blocks of
 * a growing one and renders only its open tail again).
 */
import {
  addCopyButtons, keepingBottom, labMarkdown, labRender, renderMarkdown, showMarkdown,
} from './markdown.js';

/** @typedef {import('./markdown.js').MarkdownService} MarkdownService */

/** A line that may open a fenced code block (any indent: fences inside list items count). */
const FENCE = /^\s*(`{3,}|~{3,})/;

/**
 * Markdown that grows as a reply streams, rendered in time linear in its
 * length: text up to the last blank line outside a code fence is finished
 * and rendered once, appended as it grows; only the block after it is
 * rendered again on each update.  `finish(text)` renders the whole text once
 * (a block split may differ from a whole render, e.g. a loose list).
 */
export class LiveMarkdown {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.stable = document.createElement('div');
    this.stable.className = 'rc-md-stable';
    this.tail = document.createElement('div');
    this.tail.className = 'rc-md-tail';
    root.replaceChildren(this.stable, this.tail);
    this.text = '';
    this.scanned = 0; // characters whose lines were looked at
    this.fence = ''; // the open fence's marker, while inside one
    this.cut = 0; // end of the finished part
    this.rendered = 0; // how much of the finished part is in `stable`
    this.epoch = 0;
    // JupyterLab's renderer (flush): finished blocks not yet rendered, the tail's text, one render at a time
    /** @type {string[]} */
    this.blocks = [];
    this.tailText = '';
    this.busy = false;
    this.again = false;
    this.generation = 0; // a reset or finish drops what a render in flight brings
  }

  /** @param {string} text */
  reset(text) {
    this.text = '';
    this.scanned = 0; // characters whose lines were looked at
    this.fence = ''; // the open fence's marker, while inside one
    this.cut = 0; // end of the finished part
    this.rendered = 0; // how much of the finished part is in `stable`
    this.stable.replaceChildren();
    this.tail.replaceChildren();
    this.blocks = [];
    this.tailText = '';
    this.generation += 1;
    this.busy = false;
    if (text) this.update(text, this.epoch);
  }

  /**
   * Show `text`.  Unless `epoch` changed, `text` extends the last one: that is
   * not checked character by character, which would make each update cost the
   * whole length again.
   * @param {string} text @param {number} [epoch]
   */
  update(text, epoch = 0) {
    if (epoch !== this.epoch || text.length < this.text.length) {
      this.epoch = epoch;
      this.reset(text);
      return;
    }
    this.text = text;
    this.scan();
    const lab = labMarkdown();
    if (lab) {
      if (this.cut > this.rendered) this.blocks.push(text.slice(this.rendered, this.cut));
      this.rendered = this.cut;
      this.tailText = text.slice(this.cut);
      this.flush(lab);
      return;
    }
    if (this.cut > this.rendered) {
      const block = document.createElement('div');
      block.innerHTML = renderMarkdown(text.slice(this.rendered, this.cut));
      addCopyButtons(block);
      this.stable.append(...block.childNodes);
      this.rendered = this.cut;
    }
    this.tail.innerHTML = renderMarkdown(text.slice(this.cut));
    addCopyButtons(this.tail);
  }

  /**
   * JupyterLab's renderer: the blocks finished since the last render and the
   * tail, rendered together and shown at once (no moment where a block left the
   * tail but is not yet in the finished part).  One render at a time: what
   * arrives meanwhile is rendered next, the tail as it is then.
   * @param {MarkdownService} lab
   */
  flush(lab) {
    if (this.busy) { this.again = true; return; }
    const blocks = this.blocks.splice(0);
    const generation = this.generation;
    this.busy = true;
    this.again = false;
    Promise.all([...blocks, this.tailText].map((text) => labRender(lab, text))).then((rendered) => {
      if (generation !== this.generation) return; // reset or finished meanwhile (which freed `busy`): stale
      this.busy = false;
      const tail = /** @type {HTMLElement} */ (rendered.pop());
      for (const element of [...rendered, tail]) addCopyButtons(element);
      keepingBottom(this.root, () => {
        this.stable.append(...rendered);
        this.tail.replaceChildren(tail);
      });
      if (this.again) this.flush(lab);
    });
  }

  /** Find the last blank line outside a fence among the lines not yet looked at. */
  scan() {
    const text = this.text;
    let start = this.scanned;
    for (let end = text.indexOf('\n', start); end >= 0; end = text.indexOf('\n', start)) {
      const line = text.slice(start, end);
      const fence = FENCE.exec(line);
      if (this.fence) { // only the same character, at least as long, closes it
        if (fence && fence[1][0] === this.fence[0] && fence[1].length >= this.fence.length
            && line.trim() === fence[1]) this.fence = '';
      } else if (fence) {
        this.fence = fence[1];
      } else if (line.trim() === '') {
        this.cut = end + 1;
      }
      start = end + 1;
    }
    this.scanned = start;
  }

  /** The committed text, rendered whole once. @param {string} text */
  finish(text) {
    this.generation += 1;
    showMarkdown(this.root, text);
  }
}
