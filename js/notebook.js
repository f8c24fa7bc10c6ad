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
 * A failed cell's "Explain this error in the chat": `{notebook, cellId, offers}`.
 * Each chat view in that notebook adds an offer (listeners run synchronously);
 * the plugin then picks one that can send now, the notebook's own chat first.
 * @typedef {{own: boolean, ready: boolean, accept: () => void}} ExplainOffer
 */
export const EXPLAIN_EVENT = 'resumechat:explain';

/**
 * @typedef {{id: string, label: string, type: string, source: string, output: string,
 *            error: {name: string, text: string} | null}} CellInfo
 * @typedef {{cells: (el: Element) => CellInfo[], insertBelow: (el: Element, code: string) => boolean,
 *            folder: (el: Element) => string | null,
 *            pageTools?: (el: Element) => import('./pagetools.js').PageTools | string}} NotebookService
 *   `pageTools`: the page tools of the notebook `el` is in (pagetools.js), or why there are none
 *   (not in a notebook, not trusted): never another notebook's.
 */

/**
 * Offer this view when the user asks to explain an error of the notebook holding
 * `el`; `accept(cellId)` runs if it is chosen.  Returns the unlisten.
 * @param {Element} el @param {{own: () => boolean, ready: () => boolean, accept: (cellId: string) => void}} view
 */
export function onExplain(el, view) {
  const listener = (/** @type {Event} */ event) => {
    const detail = /** @type {CustomEvent} */ (event).detail;
    if (!detail || !Array.isArray(detail.offers) || !(detail.notebook instanceof Element) || !detail.notebook.contains(el)) return;
    detail.offers.push({ own: view.own(), ready: view.ready(), accept: () => view.accept(String(detail.cellId)) });
  };
  window.addEventListener(EXPLAIN_EVENT, listener);
  return () => window.removeEventListener(EXPLAIN_EVENT, listener);
}

/** @returns {NotebookService | null} */
export function notebookService() {
  return /** @type {any} */ (window)[SERVICE] || null;
}
