// @ts-check
// A reply drawn in the order of its parts (reply.js), in a DOM (linkedom): `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHTML } from 'linkedom';

const page = parseHTML('<!doctype html><html><body></body></html>');
/** @type {any} */ (globalThis).window = page.window; // DOMPurify (markdown.js) reads it when loaded
/** @type {any} */ (globalThis).document = page.document;
const { MessageNode, PartsBody } = await import('./reply.js');

/** @typedef {import('./state.js').Part} Part */

/** @param {string} id @param {string} status @returns {Part} */
const tool = (id, status) => ({ type: 'tool', call: { id, name: 'file_read', arguments: { path: 'a' }, runs_on: 'server', status,
  result: null, error: null, decision: null, claimed_by: null, created_at: 't', updated_at: status } });

/** @param {InstanceType<typeof PartsBody>} body */
const shown = (body) => [...body.root.children].map((n) => n.className);

test('parts are drawn in order; a changed call replaces only its card', () => {
  const body = new PartsBody({});
  const text = /** @type {Part} */ ({ type: 'text', text: 'Let me look.\n\n' });
  /** @type {Part[]} */
  let parts = [{ type: 'reasoning', text: 'think' }, text, tool('c1', 'running')];
  body.draw(parts, { live: true, epoch: 0, streamId: 's' });
  assert.deepEqual(shown(body), ['rc-part rc-part-reasoning', 'rc-part rc-part-text', 'rc-card rc-call-running']);
  const [thinking, said] = [...body.root.children];
  parts = [parts[0], text, tool('c1', 'done'), { type: 'text', text: 'Found it.' }];
  body.draw(parts, { live: true, epoch: 0, streamId: 's' });
  assert.deepEqual(shown(body), ['rc-part rc-part-reasoning', 'rc-part rc-part-text', 'rc-card rc-call-done',
    'rc-part rc-part-text']);
  assert.equal(body.root.children[0], thinking); // untouched parts keep their nodes
  assert.equal(body.root.children[1], said);
  assert.match(body.root.children[3].textContent || '', /Found it\./);
});

test('a committed reply with parts shows them; one without is its content, as before', () => {
  const node = new MessageNode('assistant', {});
  node.draw({ id: 'a', role: 'assistant', content: 'ok', status: 'complete', parts: [tool('c1', 'done'), { type: 'text', text: 'ok' }] });
  assert.equal(node.body.querySelectorAll('.rc-card').length, 1);
  assert.equal(node.reasoning.hidden, true);
  const old = new MessageNode('assistant', {});
  old.draw({ id: 'b', role: 'assistant', content: '**hi**', status: 'complete', reasoning: 'r' });
  assert.equal(old.body.querySelector('strong')?.textContent, 'hi');
  assert.equal(old.body.querySelector('.rc-parts'), null);
  assert.equal(old.reasoning.hidden, false); // the message's own reasoning fold, as before
  const before = new MessageNode('assistant', {});
  before.draw({ id: 'c', role: 'assistant', content: 'kept', status: 'complete', parts: [] });
  assert.equal(before.body.textContent?.trim(), 'kept');
});

test('the live reply switches from its content to its parts when a call arrives, and back to committed', () => {
  const node = new MessageNode('assistant', {});
  node.drawLive({ messageId: 'a', content: 'Hel', reasoning: '', epoch: 0, parts: null }, 's');
  assert.match(node.body.textContent || '', /Hel/);
  node.drawLive({ messageId: 'a', content: 'Hel', reasoning: '', epoch: 0,
    parts: [{ type: 'text', text: 'Hel' }, tool('c1', 'awaiting_approval')] }, 's');
  assert.equal(node.body.querySelectorAll('.rc-decide').length, 0); // no onDecide given: no buttons
  assert.equal(node.body.querySelectorAll('.rc-card').length, 1);
  assert.equal(node.node.getAttribute('aria-busy'), 'true');
  node.draw({ id: 'a', role: 'assistant', content: 'Hel', status: 'complete', parts: [{ type: 'text', text: 'Hel' }, tool('c1', 'denied')] });
  assert.equal(node.node.getAttribute('aria-busy'), null);
  assert.equal(node.body.querySelector('.rc-card-status')?.textContent, 'Denied');
  assert.equal(node.body.querySelector('.rc-cursor'), null);
});
