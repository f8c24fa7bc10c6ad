// @ts-check
/**
 * Model output is untrusted (docs/protocol.md#untrusted-output): markdown is rendered with raw HTML
 * escaped, then sanitized; links open in a new tab without an opener; no
 * images are loaded; code blocks get Copy and Insert below buttons.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';

/** @param {string} text */
function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c] || c));
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }) { return escapeHtml(text); },
    image({ text }) { return escapeHtml(text || ''); },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const POLICY = {
  ALLOWED_TAGS: ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'hr', 'i', 'li', 'ol', 'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul', 'span', 'input'],
  ALLOWED_ATTR: ['href', 'title', 'class', 'type', 'checked', 'disabled', 'align'],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
};

/**
 * Sanitized HTML for markdown `text`.
 * @param {string} text
 */
export function renderMarkdown(text) {
  const html = /** @type {string} */ (marked.parse(text, { async: false }));
  return DOMPurify.sanitize(html, POLICY);
}

/**
 * Add Copy and Insert below buttons to the code blocks under `root`.
 * @param {HTMLElement} root
 */
export function addCopyButtons(root) {
  for (const pre of root.querySelectorAll('pre')) {
    const button = document.createElement('button');
    button.className = 'rc-copy';
    button.type = 'button';
    button.textContent = 'Copy';
    button.addEventListener('click', () => {
      navigator.clipboard?.writeText(pre.querySelector('code')?.textContent || pre.textContent || '');
      button.textContent = 'Copied';
      setTimeout(() => { button.textContent = 'Copy'; }, 1200);
    });
    // "Insert below" (a new notebook cell with the code) shows where the page has a notebook
    // (panel.css, [data-insert]); the view handles its click.
    const insert = document.createElement('button');
    insert.className = 'rc-insert';
    insert.type = 'button';
    insert.textContent = 'Insert below';
    pre.append(button, insert);
  }
}

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
    this.root.innerHTML = renderMarkdown(text);
    addCopyButtons(this.root);
  }
}
