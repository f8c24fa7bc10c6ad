// @ts-check
/**
 * The plugin that lends chat views JupyterLab's own look (issue 28, "Looks
 * native"): a reply is rendered by the application's markdown renderer (its
 * IRenderMimeRegistry's text/markdown renderer), so it looks like a markdown
 * cell, and the header's buttons carry JupyterLab's LabIcons.  Both are
 * published on `window` (markdown.js SERVICE, native.js ICONS), as the
 * notebook service is (notebook-plugin.js): the views are drawn by two
 * bundles (this extension's and the anywidget widget's) and both find them
 * there.  Only the extension's bundle imports this file.
 *
 * Model output stays untrusted (docs/protocol.md#untrusted-output): every
 * reply is rendered as an untrusted model (no script runs, JupyterLab's
 * sanitizer applies), and the registry is a clone whose sanitizer also runs
 * `cleanForLab` (no image or other media loads, no style, no form).
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { addIcon, historyIcon } from '@jupyterlab/ui-components';
import { SERVICE as MARKDOWN, cleanForLab } from './markdown.js';
import { ICONS } from './native.js';

/** @typedef {import('./markdown.js').MarkdownService} MarkdownService */

/**
 * JupyterLab's sanitizer, then ours.
 * @param {any} lab the registry's sanitizer (ISanitizer)
 */
export function strictSanitizer(lab) {
  return {
    sanitize: (/** @type {string} */ dirty, /** @type {any} */ options) => cleanForLab(lab.sanitize(dirty, options)),
    getAutolink: () => (lab.getAutolink ? lab.getAutolink() : true),
    allowNamedProperties: false, // headings get data-jupyter-id, not an id a reply could clash with
  };
}

/**
 * @param {any} rendermime the application's IRenderMimeRegistry
 * @returns {MarkdownService}
 */
export function markdownService(rendermime) {
  const registry = rendermime.clone({ sanitizer: strictSanitizer(rendermime.sanitizer) });
  return {
    render: async (text) => {
      const renderer = registry.createRenderer('text/markdown');
      await renderer.renderModel({ data: { 'text/markdown': text }, metadata: {}, trusted: false, setData: () => {} });
      return renderer.node;
    },
  };
}

/** @type {import('@jupyterlab/application').JupyterFrontEndPlugin<void>} */
export const renderPlugin = {
  id: 'jupyter-resumechat:render',
  description: 'Renders chat replies with JupyterLab\'s markdown renderer and gives the chat header JupyterLab\'s icons.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  activate: (_app, /** @type {any} */ rendermime) => {
    /** @type {any} */ (window)[MARKDOWN] = markdownService(rendermime);
    /** @type {any} */ (window)[ICONS] = { new: addIcon, history: historyIcon };
  },
};
