// @ts-check
/**
 * How the panel's header looks like JupyterLab's own toolbars where it runs
 * inside JupyterLab / Notebook 7: the extension (lab-render.js) publishes the
 * application's LabIcons under ICONS, and a header button is then drawn as a
 * ToolbarButton draws itself (`jp-ToolbarButton` holding a minimal
 * `jp-ToolbarButtonComponent jp-Button` with the icon's svg, the label as its
 * tooltip and accessible name).  Elsewhere (the anywidget view outside
 * JupyterLab) it is a text button, as before.  The button is a plain
 * `<button>` either way, made here at once: the view keeps it, listens to it
 * and anchors the switcher's popup under it.  No JupyterLab import here: the
 * widget's bundle shares this file.
 */
import { h } from './dom.js';

/** The window property where the extension publishes the header's icons (lab-render.js). */
export const ICONS = 'jupyterResumechatIcons1';

/**
 * The LabIcons by the header's names for them ('new', 'history'): a LabIcon's
 * `element()` draws it (theme-coloured by JupyterLab's jp-icon classes).
 * @typedef {Record<string, {element: (options: any) => HTMLElement}>} IconService
 */

/** @returns {IconService | null} */
export function labIcons() {
  return typeof window === 'undefined' ? null : /** @type {any} */ (window)[ICONS] || null;
}

/**
 * A header button: `item` is what goes in the header (the button, or
 * JupyterLab's toolbar item holding it), `button` the button itself.
 * @param {string} label the tooltip and accessible name (the text where there is no icon)
 * @param {string} className @param {string} icon the icon's name in the IconService
 * @returns {{item: HTMLElement, button: HTMLButtonElement}}
 */
export function headerButton(label, className, icon) {
  const found = labIcons()?.[icon];
  const button = /** @type {HTMLButtonElement} */ (h('button', className, found ? undefined : label));
  button.type = 'button';
  if (!found) return { item: button, button };
  button.classList.add('jp-ToolbarButtonComponent', 'jp-mod-minimal', 'jp-Button');
  button.title = label;
  button.setAttribute('aria-label', label);
  button.append(found.element({ tag: 'span', className: 'jp-ToolbarButtonComponent-icon', elementPosition: 'center', elementSize: 'normal' }));
  const item = h('div', 'lm-Widget jp-ToolbarButton jp-Toolbar-item');
  item.append(button);
  return { item, button };
}

/** Whether the header is drawn as a JupyterLab toolbar (the extension published its icons). */
export function nativeHeader() {
  return !!labIcons();
}
