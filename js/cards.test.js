// @ts-check
// Tool-call cards (cards.js): what a card says, and the card itself in a DOM (linkedom): `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHTML } from 'linkedom';
import {
  DECISIONS, FOLD_CHARS, STATUS_LABELS, argumentsView, callSummary, canDecide, diffSource, drawCard, resultView,
} from './cards.js';

const { document } = parseHTML('<!doctype html><html><body></body></html>');
/** @type {any} */ (globalThis).document = document;

/** @typedef {import('./state.js').ToolCall} ToolCall */

/** @param {string} name @param {any} args @param {Partial<ToolCall>} [extra] @returns {ToolCall} */
const call = (name, args, extra = {}) => ({ id: 'c1', name, arguments: args, runs_on: 'page', status: 'done', result: null,
  error: null, decision: null, claimed_by: null, created_at: 't', updated_at: 't', ...extra });
/** @param {ToolCall} c @param {string} [argumentsText] */
const part = (c, argumentsText) => /** @type {import('./cards.js').ToolPart} */ ({ type: 'tool', call: c, argumentsText });

test('a summary says what the call does, in one line', () => {
  assert.equal(callSummary(call('notebook_edit_cell', { cell_id: 'abc', source: 'x' })), 'Edit cell abc');
  assert.equal(callSummary(call('notebook_run_cell', { cell_id: 'abc' })), 'Run cell abc');
  assert.equal(callSummary(call('notebook_read', {})), 'Read the notebook');
  assert.equal(callSummary(call('notebook_read', { cell_ids: ['a', 'b'] })), 'Read 2 cells');
  assert.equal(callSummary(call('notebook_insert_cell', { source: 'x', cell_type: 'markdown', after: 'k' })),
    'Insert a markdown cell after k');
  assert.equal(callSummary(call('file_write', { path: 'out.txt', content: 'x' })), 'Write out.txt');
  assert.equal(callSummary(call('kernel_variables', {})), 'List the kernel\'s variables');
  const long = callSummary(call('mcp_search', { query: 'q'.repeat(200) }));
  assert.equal(long.length, 80);
  assert.ok(long.endsWith('…'));
  assert.ok(!callSummary(call('mcp_search', { text: 'a\nb' })).includes('\n'));
  assert.equal(callSummary(call('mcp_ping', null)), '');
});

test('a cell edit shows a line diff (jsdiff) from the old source to the new', () => {
  assert.deepEqual(diffSource('a = 1\nb = 2\n', 'a = 1\nb = 3\nc = 4\n'), [
    { op: 'same', text: 'a = 1' }, { op: 'remove', text: 'b = 2' }, { op: 'add', text: 'b = 3' }, { op: 'add', text: 'c = 4' },
  ]);
  const edit = call('notebook_edit_cell', { cell_id: 'k', old_source: 'x = 1', source: 'x = 2' });
  assert.deepEqual(argumentsView(part(edit)), { kind: 'diff', cellId: 'k',
    lines: [{ op: 'remove', text: 'x = 1' }, { op: 'add', text: 'x = 2' }] });
});

test('without old_source the diff is made from the cell as it is, only while the edit has not run', () => {
  const cells = (/** @type {string} */ id) => (id === 'k' ? 'old' : null);
  const waiting = call('notebook_edit_cell', { cell_id: 'k', source: 'new' }, { status: 'awaiting_approval' });
  assert.equal(argumentsView(part(waiting), cells).kind, 'diff');
  const done = { ...waiting, status: 'done' }; // the notebook now holds the new source: no diff from it
  assert.equal(argumentsView(part(done), cells).kind, 'json');
  const unknownCell = call('notebook_edit_cell', { cell_id: 'zz', source: 'new' }, { status: 'awaiting_approval' });
  assert.equal(argumentsView(part(unknownCell), cells).kind, 'json');
});

test('arguments: raw while they stream, pretty JSON once the call says them', () => {
  const c = call('file_read', { path: 'a.txt' });
  assert.deepEqual(argumentsView(part(c, '{"pa')), { kind: 'raw', text: '{"pa' });
  assert.deepEqual(argumentsView(part(c)), { kind: 'json', text: '{\n  "path": "a.txt"\n}' });
});

test('a long result is folded; a structured one shows as JSON; truncation is said', () => {
  assert.equal(resultView(null), null);
  assert.deepEqual(resultView({ content: 'short', truncated: false }), { text: 'short', folded: false, truncated: false });
  assert.equal(resultView({ content: 'x'.repeat(FOLD_CHARS + 1), truncated: true })?.folded, true);
  assert.equal(resultView({ content: Array(20).fill('l').join('\n'), truncated: false })?.folded, true);
  assert.equal(resultView({ content: { rows: 1 }, truncated: false })?.text, '{\n  "rows": 1\n}');
});

test('the three decisions are the bodies the decision endpoint takes', () => {
  assert.deepEqual(DECISIONS.approve, { decision: 'approve' });
  assert.deepEqual(DECISIONS.deny, { decision: 'deny' });
  assert.deepEqual(DECISIONS.always, { decision: 'approve', note: 'always' });
  assert.equal(canDecide(call('x', {}, { status: 'awaiting_approval' }), 's'), true);
  assert.equal(canDecide(call('x', {}, { status: 'awaiting_approval' }), null), false); // no stream to decide on
  assert.equal(canDecide(call('x', {}, { status: 'running' }), 's'), false);
});

test('a call awaiting approval has three real buttons; a click sends its decision and holds them meanwhile', async () => {
  /** @type {any[]} */
  const sent = [];
  /** @type {(ok: boolean) => void} */
  let answer = () => {};
  const card = drawCard(part(call('notebook_run_cell', { cell_id: 'k' }, { status: 'awaiting_approval' })), {
    streamId: 's1',
    onDecide: (sid, id, decision) => { sent.push([sid, id, decision]); return new Promise((resolve) => { answer = resolve; }); },
  });
  const buttons = [...card.querySelectorAll('button')];
  assert.deepEqual(buttons.map((b) => b.textContent), ['Approve', 'Deny', 'Always for this conversation']);
  assert.ok(buttons.every((b) => b.getAttribute('type') === 'button'));
  assert.ok(buttons.every((b) => b.getAttribute('data-lm-suppress-shortcuts') === 'true')); // keys stay in the panel
  assert.equal(card.querySelector('.rc-card-status')?.textContent, STATUS_LABELS.awaiting_approval);
  assert.equal(/** @type {any} */ (card.querySelector('details.rc-card-args')).open, true); // what is approved shows
  buttons[2].dispatchEvent(new (/** @type {any} */ (document.defaultView).Event)('click'));
  assert.deepEqual(sent, [['s1', 'c1', { decision: 'approve', note: 'always' }]]);
  assert.ok(buttons.every((b) => b.disabled)); // no second decision while the first is on its way
  answer(false); // not sent: the buttons come back
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.ok(buttons.every((b) => !b.disabled));
});

test('a committed reply (no stream) or a call past approval has no buttons', () => {
  const waiting = call('file_write', { path: 'a', content: 'b' }, { status: 'awaiting_approval' });
  assert.equal(drawCard(part(waiting), { streamId: null, onDecide: async () => true }).querySelectorAll('button').length, 0);
  const running = { ...waiting, status: 'running' };
  assert.equal(drawCard(part(running), { streamId: 's', onDecide: async () => true }).querySelectorAll('button').length, 0);
});

test('a tool result is text, never live HTML; an error is said on the card', () => {
  const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold</b>';
  const card = drawCard(part(call('file_read', { path: '<i>a</i>' }, {
    result: { content: hostile, truncated: true },
  })), { streamId: null });
  assert.equal(card.querySelector('img, script, b, i'), null);
  assert.equal(card.querySelector('.rc-card-output')?.textContent, hostile);
  assert.match(card.querySelector('.rc-card-result summary')?.textContent || '', /cut/);
  const failed = drawCard(part(call('notebook_run_cell', { cell_id: 'k' }, {
    status: 'error', error: { type: 'NameError', detail: 'x is not defined' },
  })), { streamId: null });
  assert.equal(failed.querySelector('.rc-card-error')?.textContent, 'NameError: x is not defined');
});

test('a cell edit awaiting approval draws its diff line by line', () => {
  const card = drawCard(part(call('notebook_edit_cell', { cell_id: 'k', old_source: 'a\nb', source: 'a\nc' },
    { status: 'awaiting_approval' })), { streamId: 's', onDecide: async () => true });
  const lines = [...card.querySelectorAll('.rc-diff-line')].map((l) => [l.className.split(' ')[1], l.textContent]);
  assert.deepEqual(lines, [['rc-diff-same', '  a\n'], ['rc-diff-remove', '- b\n'], ['rc-diff-add', '+ c\n']]);
});
