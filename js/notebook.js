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
 * @typedef {{id: string, label: string, type: string, source: string, output: string,
 *            error: {name: string, text: string} | null}} CellInfo
 * @typedef {{cells: (el: Element) => CellInfo[], insertBelow: (el: Element, code: string) => boolean,
 *            folder: (el: Element) => string | null}} NotebookService
 */

/** @returns {NotebookService | null} */
export function notebookService() {
  return /** @type {any} */ (window)[SERVICE] || null;
}
