// @ts-check
/**
 * Model output is untrusted (DESIGN §4.6): markdown is rendered with raw HTML
 * escaped, then sanitized; links open in a new tab without an opener; no
 * images are loaded; code blocks get a copy button.
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
 * Add copy buttons to the code blocks under `root`.
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
    pre.appendChild(button);
  }
}
