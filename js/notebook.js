// @ts-check
/**
 * What a chat view may read of, and write into, the notebook around it: its
 * cells (for `@` mentions) and a new cell below (a reply's "Insert below").
 * A JupyterLab / Notebook 7 plugin (notebook-plugin.js) publishes it on
 * `window` under a versioned name, because the widget's bundle (loaded by anywidget) and this
 * extension's bundle are separate module instances; a page without the
 * extension (another frontend) has none, and the view then offers neither.
 * Nothing here runs code: an inserted cell waits for the user.
 */
export const SERVICE = 'jupyterResumechatNotebook1';
/**
 * A failed cell's "Explain this error in the chat": `{notebook, cellId, claimed}`;
 * the first chat view in that notebook claims it and sends (events run in order).
 */
export const EXPLAIN_EVENT = 'resumechat:explain';

/**
 * @typedef {{id: string, label: string, type: string, source: string, output: string,
 *            error: {name: string, text: string} | null}} CellInfo
 * @typedef {{cells: (el: Element) => CellInfo[], insertBelow: (el: Element, code: string) => boolean,
 *            folder: (el: Element) => string | null}} NotebookService
 */

/**
 * Call `handler(cellId)` when the user asks to explain an error of the notebook
 * holding `el`, unless another view of it took it first; returns the unlisten.
 * @param {Element} el @param {(cellId: string) => void} handler
 */
export function onExplain(el, handler) {
  const listener = (/** @type {Event} */ event) => {
    const detail = /** @type {CustomEvent} */ (event).detail;
    if (!detail || detail.claimed || !(detail.notebook instanceof Element) || !detail.notebook.contains(el)) return;
    detail.claimed = true;
    handler(String(detail.cellId));
  };
  window.addEventListener(EXPLAIN_EVENT, listener);
  return () => window.removeEventListener(EXPLAIN_EVENT, listener);
}

/** @returns {NotebookService | null} */
export function notebookService() {
  return /** @type {any} */ (window)[SERVICE] || null;
}
