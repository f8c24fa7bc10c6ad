// @ts-check
/**
 * Which keys typed in a chat panel go on to the application (docs/protocol.md#keys).
 * The panel keeps every key (its root carries `data-lm-suppress-shortcuts`, so
 * the notebook never sees Enter, Shift+Enter, Escape or a single letter); the
 * application's own shortcuts go through, exactly those a cell editor gets
 * from outside its notebook.  The list is not kept here: it is read from
 * JupyterLab's key binding registry at each key, so a binding the user or an
 * extension adds or changes is followed.
 *
 * A binding passes when its keys are one keystroke with Ctrl, Alt or Cmd (or a
 * function key: F11 goes full screen), and its selector matches the element the panel sits in *above* the notebook
 * (the notebook panel, the tab, the sidebar, `body`): the application's
 * bindings.  A binding whose selector needs the notebook or one of its cells
 * (`.jp-Notebook.jp-mod-editMode`, `.jp-Notebook:focus`…) stays in the panel.
 * A passing key is dispatched again from that element, so the registry runs it
 * as it would from a cell editor (its `isEnabled`, its `preventDefault`).
 *
 * The extension's bundle publishes the service on `window` (versioned name),
 * because the widget's bundle is a separate module instance with no access to
 * the application; a page without the extension keeps every key in the panel.
 */
export const SERVICE = 'jupyterResumechatShortcuts1';

/**
 * @typedef {{keys: readonly string[], selector: string, command: string}} Binding
 * @typedef {{bindings: () => readonly Binding[], keystroke: (event: KeyboardEvent) => string}} Registry
 * @typedef {{forward: (event: KeyboardEvent, panel: Element) => boolean,
 *            passing: (panel: Element) => Binding[], held: (panel: Element) => Binding[]}} ShortcutService
 */

/** A keystroke the text box does not type with: a chord with Ctrl, Alt or Cmd, or a function key. */
const APPLICATION_KEY = /(^|\s)(Ctrl|Alt|Cmd)\s|(^|\s)F\d{1,2}$/;

/**
 * Where the application's bindings are matched for a panel: the parent of the
 * notebook holding it, else the parent of the panel itself.
 * @param {Element} panel @returns {Element | null}
 */
export function applicationTarget(panel) {
  const notebook = panel.closest('.jp-Notebook');
  return (notebook || panel).parentElement;
}

/** @param {Element | null} target @param {string} selector */
function matchesFrom(target, selector) {
  for (let node = target; node; node = node.parentElement) {
    try {
      if (node.matches(selector)) return true;
    } catch { return false; } // a selector the browser refuses matches nothing, as in the registry
  }
  return false;
}

/**
 * The bindings that a key typed in `panel` hands to the application.
 * @param {readonly Binding[]} bindings @param {Element} panel @returns {Binding[]}
 */
export function passingBindings(bindings, panel) {
  const target = applicationTarget(panel);
  return bindings.filter((b) => b.keys.length === 1 && APPLICATION_KEY.test(b.keys[0]) && matchesFrom(target, b.selector));
}

/**
 * The bindings that would apply to a key typed in `panel` but stay in it: the
 * notebook's (and any without a modifier).  What the panel's note and tests list.
 * @param {readonly Binding[]} bindings @param {Element} panel @returns {Binding[]}
 */
export function heldBindings(bindings, panel) {
  const passing = new Set(passingBindings(bindings, panel));
  return bindings.filter((b) => !passing.has(b) && matchesFrom(panel, b.selector));
}

/**
 * The service over a registry: `forward` re-dispatches a passing key from the
 * application's target and says whether it did (the caller stops the original).
 * @param {Registry} registry @returns {ShortcutService}
 */
export function shortcutService(registry) {
  return {
    passing: (panel) => passingBindings(registry.bindings(), panel),
    held: (panel) => heldBindings(registry.bindings(), panel),
    forward: (event, panel) => {
      if (event.defaultPrevented || event.isComposing) return false; // the panel used it (Ctrl+Enter sends)
      const keystroke = registry.keystroke(event);
      const target = applicationTarget(panel);
      if (!keystroke || !target) return false;
      const found = passingBindings(registry.bindings(), panel).some((b) => b.keys[0] === keystroke);
      if (!found) return false;
      const again = new KeyboardEvent(event.type, event);
      target.dispatchEvent(again);
      if (again.defaultPrevented) event.preventDefault(); // no browser "Save page" dialog
      return true;
    },
  };
}

/**
 * Hand the key to the application if it is one of its shortcuts (no-op without
 * the extension).  @param {KeyboardEvent} event @param {Element} panel
 */
export function forwardShortcut(event, panel) {
  const service = /** @type {ShortcutService | undefined} */ (/** @type {any} */ (window)[SERVICE]);
  return service ? service.forward(event, panel) : false;
}
