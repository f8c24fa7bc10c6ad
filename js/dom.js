// @ts-check
/**
 * The two element builders the panel's DOM code shares.  Text goes in as
 * `textContent`, never as HTML: what a model or a tool wrote stays text.
 */

/** @param {string} tag @param {string} className @param {string} [text] @returns {HTMLElement} */
export function h(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A real `<button type="button">` (keyboard-operable, never submits). @param {string} text @param {string} className */
export function button(text, className) {
  const element = /** @type {HTMLButtonElement} */ (h('button', className, text));
  element.type = 'button';
  return element;
}
