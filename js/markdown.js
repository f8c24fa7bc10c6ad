// @ts-check
/**
 * Model output is untrusted (docs/protocol.md#untrusted-output); code blocks
 * get Copy and Insert below buttons.  Inside JupyterLab / Notebook 7 a reply
 * is rendered by the application's own markdown renderer (its
 * IRenderMimeRegistry's text/markdown renderer, published by
 * lab-render.js as SERVICE), as an untrusted markdown cell is: sanitized by
 * JupyterLab's sanitizer, then by `cleanForLab` (no image or other media is
 * loaded, no style, only http(s) / mailto / # links).  That renderer is
 * asynchronous: one render per element is in flight at a time and the
 * newest text waits for it (a throttle: a fast stream skips the texts it
 * outran), and a render that lands while the reader is at the bottom of the
 * conversation keeps them there.  Where the page has no such renderer (the
 * anywidget view outside JupyterLab) it is marked + DOMPurify here: raw HTML
 * escaped, then sanitized; links open in a new tab without an opener; no
 * images are loaded.
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

/** The links a reply may carry, in either renderer. */
const LINKS = /^(?:https?:|mailto:|#)/i;

const POLICY = {
  ALLOWED_TAGS: ['a', 'b', 'blockquote', 'br', 'code', 'del', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
    'hr', 'i', 'li', 'ol', 'p', 'pre', 'strong', 'table', 'tbody', 'td', 'th', 'thead', 'tr', 'ul', 'span', 'input'],
  ALLOWED_ATTR: ['href', 'title', 'class', 'type', 'checked', 'disabled', 'align'],
  ALLOWED_URI_REGEXP: LINKS,
};

/** The window property where the JupyterLab extension publishes its markdown renderer (lab-render.js). */
export const SERVICE = 'jupyterResumechatMarkdown1';

/**
 * JupyterLab's markdown renderer: `render(text)` resolves to a new element
 * (`jp-RenderedMarkdown jp-RenderedHTMLCommon`) holding `text` rendered as an
 * untrusted markdown cell.
 * @typedef {{render: (text: string) => Promise<HTMLElement>}} MarkdownService
 */

/** @returns {MarkdownService | null} */
export function labMarkdown() {
  return typeof window === 'undefined' ? null : /** @type {any} */ (window)[SERVICE] || null;
}

const LAB_POLICY = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['img', 'picture', 'video', 'audio', 'source', 'track', 'iframe', 'object', 'embed', 'style',
    'link', 'meta', 'form', 'button', 'textarea', 'select'],
  FORBID_ATTR: ['style', 'srcset', 'background', 'poster', 'action', 'formaction'],
  ALLOWED_URI_REGEXP: LINKS,
};


/**
 * What JupyterLab's sanitizer let through, made as strict as the fallback's
 * policy: an image becomes its alt text (in an inert template, so nothing
 * loads), other media, styles, forms and other links' schemes go.
 * @param {string} html
 */
export function cleanForLab(html) {
  const template = document.createElement('template');
  template.innerHTML = html;
  for (const image of template.content.querySelectorAll('img')) image.replaceWith(image.getAttribute('alt') || '');
  return DOMPurify.sanitize(template.innerHTML, LAB_POLICY);
}

/** @param {string} text */
function fallbackElement(text) {
  const element = document.createElement('div');
  element.innerHTML = renderMarkdown(text);
  return element;
}

/** JupyterLab's rendering of `text`, else ours if it fails. @param {MarkdownService} lab @param {string} text */
export function labRender(lab, text) {
  return lab.render(text).catch((error) => {
    console.warn('jupyter-resumechat: JupyterLab could not render a reply; drawn by the fallback', error);
    return fallbackElement(text);
  });
}

/**
 * Keep the conversation scrolled to its end across a change of `node`'s size,
 * if it was there (view.js follows new text only while the reader is at the bottom).
 * @param {HTMLElement} node @param {() => void} change
 */
export function keepingBottom(node, change) {
  const list = node.closest && node.closest('.rc-messages');
  const atBottom = !!list && list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  change();
  if (list && atBottom) list.scrollTop = list.scrollHeight;
}

/**
 * Per element: a render in flight, the text waiting for it, and the child it expects to replace
 * (the element's first child when last asked): a node drawn meanwhile by other code (a live reply's
 * LiveMarkdown, a reply's parts) is not overwritten by a render that lands late.
 * @type {WeakMap<HTMLElement, {busy: boolean, next: string | null, mark: ChildNode | null}>}
 */
const renders = new WeakMap();

/**
 * Show markdown `text` in `node` (its children replaced), with code buttons:
 * by JupyterLab's renderer where the page has one (asynchronously; a newer
 * call for the same node wins), else at once by the fallback.
 * @param {HTMLElement} node @param {string} text
 */
export function showMarkdown(node, text) {
  const lab = labMarkdown();
  if (!lab) {
    node.innerHTML = renderMarkdown(text);
    addCopyButtons(node);
    return;
  }
  let state = renders.get(node);
  if (!state) renders.set(node, state = { busy: false, next: null, mark: null });
  state.next = text;
  state.mark = node.firstChild;
  if (state.busy) return;
  const run = () => {
    const wanted = /** @type {string} */ (state.next);
    state.next = null;
    state.busy = true;
    labRender(lab, wanted).then((rendered) => {
      state.busy = false;
      if (node.firstChild !== state.mark) { state.next = null; return; } // drawn by other code meanwhile
      addCopyButtons(rendered);
      keepingBottom(node, () => node.replaceChildren(rendered));
      state.mark = rendered;
      if (state.next !== null) run(); // the texts that came meanwhile: only the newest is rendered
    });
  };
  run();
}

/**
 * Sanitized HTML for markdown `text` (the fallback renderer).
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
