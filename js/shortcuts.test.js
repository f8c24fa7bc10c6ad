// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heldBindings, passingBindings } from './shortcuts.js';

/**
 * A node of a fake page: `classes` is what its selectors match.
 * @param {string[]} classes @param {any} parent @returns {any}
 */
function node(classes, parent) {
  const self = {
    parentElement: parent,
    matches: (/** @type {string} */ selector) => classes.includes(selector),
    closest: (/** @type {string} */ selector) => {
      for (let n = self; n; n = n.parentElement) if (n.matches(selector)) return n;
      return null;
    },
  };
  return self;
}

const body = node(['body'], null);
const activity = node(['.jp-Activity'], body);
const notebook = node(['.jp-Notebook', '.jp-Notebook.jp-mod-commandMode', '[data-jp-undoer]'], activity);
const panel = node(['.rc-panel'], node(['.jp-OutputArea'], notebook));
const bindings = [
  { keys: ['Ctrl S'], selector: 'body', command: 'docmanager:save' },
  { keys: ['Alt W'], selector: '.jp-Activity', command: 'application:close' },
  { keys: ['F11'], selector: 'body', command: 'application:toggle-fullscreen-mode' },
  { keys: ['Shift Enter'], selector: '.jp-Activity', command: 'runmenu:run' },
  { keys: ['Ctrl Enter'], selector: '.jp-Notebook.jp-mod-commandMode', command: 'notebook:run-cell' },
  { keys: ['Ctrl Z'], selector: '[data-jp-undoer]', command: 'editmenu:undo' },
  { keys: ['B'], selector: '.jp-Notebook.jp-mod-commandMode', command: 'notebook:insert-cell-below' },
  { keys: ['Ctrl K', 'Ctrl B'], selector: 'body', command: 'a-chord' },
];

test('the application bindings pass, matched from above the notebook', () => {
  assert.deepEqual(passingBindings(bindings, panel).map((b) => b.command),
    ['docmanager:save', 'application:close', 'application:toggle-fullscreen-mode']);
});

test("the notebook's bindings and the text box's keys stay in the panel", () => {
  assert.deepEqual(heldBindings(bindings, panel).map((b) => b.command),
    ['runmenu:run', 'notebook:run-cell', 'editmenu:undo', 'notebook:insert-cell-below', 'a-chord']);
});

test('a chat outside any notebook matches from its own container', () => {
  const tab = node(['.rc-panel'], node(['.jp-Activity'], body));
  assert.deepEqual(passingBindings(bindings, tab).map((b) => b.command),
    ['docmanager:save', 'application:close', 'application:toggle-fullscreen-mode']);
});
