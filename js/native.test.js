// @ts-check
// Looking native inside JupyterLab (markdown.js's JupyterLab renderer path, native.js's header
// buttons), in a DOM (linkedom) with stand-ins for what the extension publishes: `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHTML } from 'linkedom';

const page = parseHTML('<!doctype html><html><body></body></html>');
/** @type {any} */ (globalThis).window = page.window; // DOMPurify (markdown.js) reads it when loaded
/** @type {any} */ (globalThis).document = page.document;
const { SERVICE, showMarkdown } = await import('./markdown.js');
const { LiveMarkdown } = await import('./livemarkdown.js');
const { ICONS, headerButton } = await import('./native.js');

/**
 * A stand-in for JupyterLab's renderer: each render waits until `settle()`; it draws
 * the text in a `jp-RenderedMarkdown` element, a fenced block as a `pre`.
 */
function fakeLab() {
  /** @type {{text: string, done: () => void}[]} */
  const waiting = [];
  const rendered = /** @type {string[]} */ ([]);
  const service = {
    render: (/** @type {string} */ text) => new Promise((resolve) => {
      rendered.push(text);
      waiting.push({ text, done: () => {
        const element = document.createElement('div');
        element.className = 'jp-RenderedMarkdown jp-RenderedHTMLCommon';
        const code = /```\n([\s\S]*?)```/.exec(text);
        const words = document.createElement('p');
        words.textContent = text.replace(/```\n[\s\S]*?```\n?/, '').trim();
        element.append(words);
        if (code) {
          const pre = document.createElement('pre');
          pre.innerHTML = '<code></code>';
          /** @type {HTMLElement} */ (pre.firstChild).textContent = code[1];
          element.append(pre);
        }
        resolve(element);
      } });
    }),
  };
  /** Let every render in flight finish, and those they start, until none is left. */
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 0));
      const now = waiting.splice(0);
      if (!now.length) return;
      for (const w of now) w.done();
    }
  };
  /** @type {any} */ (window)[SERVICE] = service;
  return { rendered, settle, done: () => { delete /** @type {any} */ (window)[SERVICE]; } };
}

test('without JupyterLab a reply is rendered at once by the fallback', () => {
  const node = document.createElement('div');
  showMarkdown(node, 'Some **bold**\n\n```\nx = 1\n```\n');
  assert.equal(node.querySelector('strong')?.textContent, 'bold');
  assert.equal(node.querySelectorAll('pre .rc-copy').length, 1);
  assert.equal(node.querySelector('.jp-RenderedMarkdown'), null);
});

test("with JupyterLab a reply is its renderer's element, code buttons added, the newest text last", async () => {
  const lab = fakeLab();
  try {
    const node = document.createElement('div');
    node.textContent = 'what was there';
    showMarkdown(node, 'one');
    showMarkdown(node, 'one two');
    showMarkdown(node, 'one two three\n\n```\nprint(1)\n```\n');
    assert.equal(node.textContent, 'what was there'); // kept until a render lands
    await lab.settle();
    assert.deepEqual(lab.rendered, ['one', 'one two three\n\n```\nprint(1)\n```\n']); // 'one two' was outrun
    const shown = /** @type {HTMLElement} */ (node.firstElementChild);
    assert.equal(node.children.length, 1);
    assert.match(shown.className, /jp-RenderedMarkdown/);
    assert.equal(shown.querySelector('p')?.textContent, 'one two three');
    assert.deepEqual([...shown.querySelectorAll('pre button')].map((b) => b.className), ['rc-copy', 'rc-insert']);
  } finally { lab.done(); }
});

test('a late render does not overwrite what other code drew in the element meanwhile', async () => {
  const lab = fakeLab();
  try {
    const node = document.createElement('div');
    showMarkdown(node, 'the committed text');
    const live = new LiveMarkdown(node); // e.g. the reply continued: drawn live at once
    live.update('a live text');
    await lab.settle();
    assert.equal(node.querySelector('.rc-md-tail')?.textContent, 'a live text');
    assert.doesNotMatch(node.textContent || '', /committed/);
  } finally { lab.done(); }
});

test('a streaming reply through JupyterLab: finished blocks rendered once, tail and blocks shown together', async () => {
  const lab = fakeLab();
  try {
    const root = document.createElement('div');
    const live = new LiveMarkdown(root);
    const text = 'first block\n\nsecond block\n\nthe tail grows';
    for (let i = 1; i <= text.length; i++) live.update(text.slice(0, i));
    await lab.settle();
    const stable = /** @type {HTMLElement} */ (root.querySelector('.rc-md-stable'));
    const tail = /** @type {HTMLElement} */ (root.querySelector('.rc-md-tail'));
    assert.deepEqual([...stable.querySelectorAll('p')].map((p) => p.textContent), ['first block', 'second block']);
    assert.equal(tail.textContent, 'the tail grows');
    assert.equal(lab.rendered.filter((t) => t === 'first block\n\n').length, 1);
    assert.ok(lab.rendered.length < text.length / 2, `a render per update: ${lab.rendered.length}`);

    live.update('another reply', 1); // a new epoch while nothing is in flight
    live.update('another reply, longer', 1);
    live.reset(''); // ...and a reset while a render is in flight: what it brings is dropped
    await lab.settle();
    assert.equal(stable.children.length, 0);
    assert.equal(tail.textContent, '');
  } finally { lab.done(); }
});

// cleanForLab is tested in a browser (tests/browser/test_native.py): linkedom has no DOMPurify support.

test('header buttons: text buttons outside JupyterLab, toolbar buttons with its icon inside', () => {
  const plain = headerButton('New conversation', 'rc-new', 'new');
  assert.equal(plain.item, plain.button);
  assert.equal(plain.button.textContent, 'New conversation');
  assert.equal(plain.button.type, 'button');

  /** @type {any} */ (window)[ICONS] = {
    new: { element: (/** @type {any} */ o) => {
      const span = document.createElement(o.tag);
      span.className = o.className;
      span.innerHTML = '<svg viewBox="0 0 24 24"><path d="M0 0h1"/></svg>';
      return span;
    } },
  };
  try {
    const native = headerButton('New conversation', 'rc-new', 'new');
    assert.match(native.item.className, /\bjp-ToolbarButton\b/);
    assert.equal(native.button.parentElement, native.item);
    for (const name of ['rc-new', 'jp-ToolbarButtonComponent', 'jp-Button', 'jp-mod-minimal']) {
      assert.ok(native.button.classList.contains(name), name);
    }
    assert.equal(native.button.getAttribute('aria-label'), 'New conversation');
    assert.equal(native.button.title, 'New conversation');
    assert.ok(native.button.querySelector('.jp-ToolbarButtonComponent-icon svg'));
    const unknown = headerButton('Other', 'rc-other', 'nothing-published');
    assert.equal(unknown.button.textContent, 'Other'); // an icon the extension did not publish: text
  } finally { delete /** @type {any} */ (window)[ICONS]; }
});
