// @ts-check
// Which view runs a page call (pagecalls.js), what its card says (cards.js), and agent mode's
// storage and Tools lines (agentmode.js): `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHTML } from 'linkedom';
import { STORAGE_PREFIX, storeAgentMode, storedAgentMode, toolLine } from './agentmode.js';
import { canRunAgain, drawCard, statusLabel } from './cards.js';
import { PageCalls, plan, runningElsewhere } from './pagecalls.js';

const { document } = parseHTML('<!doctype html><html><body></body></html>');
/** @type {any} */ (globalThis).document = document;

/** @typedef {import('./state.js').ToolCall} ToolCall */
/** @param {Partial<ToolCall>} extra @returns {ToolCall} */
const call = (extra) => ({ id: 'c1', name: 'notebook_run_cell', arguments: { cell_id: 'a' }, runs_on: 'page', status: 'approved',
  result: null, error: null, decision: null, claimed_by: null, created_at: 't', updated_at: 't', ...extra });
/** @param {ToolCall[]} calls @returns {import('./state.js').State} */
const streaming = (calls) => ({ messages: [], notice: null, request: 0, finished: null,
  phase: { kind: 'streaming', streamId: 's1', lastId: 3, reconnecting: 0,
    partial: { messageId: 'm1', content: '', reasoning: '', epoch: 0, parts: calls.map((c) => ({ type: 'tool', call: c })) } } });

test('an approved, unclaimed page call is claimable: at once by the view that started it, else after the grace', () => {
  const state = streaming([call({}), call({ id: 'c2', runs_on: 'server' }), call({ id: 'c3', status: 'running', claimed_by: 'x' }),
    call({ id: 'c4', status: 'awaiting_approval' })]);
  assert.deepEqual(plan(state, new Set(), new Set()).map((c) => [c.call.id, c.now]), [['c1', false]]);
  assert.deepEqual(plan(state, new Set(['c1']), new Set()).map((c) => [c.call.id, c.now]), [['c1', true]]);
  assert.deepEqual(plan(state, new Set(['m1']), new Set()).map((c) => [c.call.id, c.now, c.streamId]), [['c1', true, 's1']]);
  assert.deepEqual(plan(state, new Set(['c1']), new Set(['c1'])), [], 'tried here once: never again');
  assert.deepEqual(plan({ ...state, phase: { kind: 'idle' } }, new Set(['c1']), new Set()), []);
});

test('a call another view claimed reads as running elsewhere; this view\'s own as running here', () => {
  const theirs = call({ status: 'running', claimed_by: 'other' });
  assert.equal(runningElsewhere(theirs, 'me'), true);
  assert.equal(runningElsewhere(call({ status: 'running', claimed_by: 'me' }), 'me'), false);
  assert.equal(statusLabel(theirs, 'me'), 'Running elsewhere');
  assert.equal(statusLabel(call({ status: 'running', claimed_by: 'me' }), 'me'), 'Running here…');
  assert.equal(statusLabel(call({}), 'me'), 'Approved: waiting for the notebook');
  assert.equal(statusLabel(call({ runs_on: 'server', status: 'running' }), 'me'), 'Running…');
});

test('only an unknown page call on a committed reply offers Run again, which hands the call back', () => {
  const unknown = call({ status: 'unknown' });
  assert.equal(canRunAgain(unknown, null), true);
  assert.equal(canRunAgain(unknown, 's1'), false);
  assert.equal(canRunAgain(call({ status: 'unknown', runs_on: 'server' }), null), false);
  /** @type {ToolCall[]} */
  const asked = [];
  const card = drawCard({ type: 'tool', call: unknown }, { streamId: null, onRunAgain: (c) => asked.push(c) });
  /** @type {any} */ (card.querySelector('.rc-card-run-again')).click();
  assert.deepEqual(asked, [unknown]);
  assert.equal(drawCard({ type: 'tool', call: call({ status: 'done' }) }, { streamId: null, onRunAgain: () => {} })
    .querySelector('.rc-card-run-again'), null);
});

test('agent mode is kept per conversation; one never switched follows the setting', () => {
  /** @type {Map<string, string>} */
  const items = new Map();
  const storage = { getItem: (/** @type {string} */ k) => items.get(k) ?? null, setItem: (/** @type {string} */ k, /** @type {string} */ v) => { items.set(k, v); } };
  assert.equal(storedAgentMode(storage, 'c1', false), false);
  assert.equal(storedAgentMode(storage, 'c1', true), true);
  storeAgentMode(storage, 'c1', true);
  assert.equal(items.get(`${STORAGE_PREFIX}c1`), 'on');
  assert.equal(storedAgentMode(storage, 'c1', false), true);
  storeAgentMode(storage, 'c1', false);
  assert.equal(storedAgentMode(storage, 'c1', true), false);
  assert.equal(storedAgentMode(storage, 'c2', false), false);
  const refusing = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } };
  assert.equal(storedAgentMode(refusing, 'c1', true), true);
  storeAgentMode(refusing, 'c1', true); // does not throw
});

test('the Tools menu says where each tool runs and its policy', () => {
  assert.equal(toolLine({ name: 'notebook_run_cell', approval: 'ask', runs_on: 'page', effect: 'execute' }),
    'notebook_run_cell (execute, in this notebook): asks you first');
  assert.equal(toolLine({ name: 'file_read', approval: 'auto', runs_on: 'server', effect: 'read' }),
    'file_read (read, on the server): runs without asking');
});

test('Revert offers a finished reply\'s done page writes that this page can take back, and takes them back newest first', () => {
  /** @type {string[][]} */
  const asked = [];
  const tools = { run: async () => ({ content: '' }), interrupt: async () => false, executing: () => false,
    revertible: (/** @type {string[]} */ ids) => ids.filter((id) => id !== 'kept-elsewhere'),
    revert: (/** @type {string[]} */ ids) => { asked.push(ids); return []; } };
  const calls = new PageCalls(/** @type {any} */ ({}), () => tools, new AbortController().signal);
  const parts = [call({ id: 'w1', name: 'notebook_insert_cell', status: 'done' }),
    call({ id: 'r1', name: 'notebook_read', status: 'done' }),
    call({ id: 'w2', name: 'notebook_edit_cell', status: 'error' }),
    call({ id: 'kept-elsewhere', name: 'notebook_delete_cell', status: 'done' }),
    call({ id: 'w3', name: 'notebook_delete_cell', status: 'done' }),
    call({ id: 's1', name: 'file_write', runs_on: 'server', status: 'done' })].map((c) => ({ type: 'tool', call: c }));
  const message = /** @type {any} */ ({ id: 'm1', role: 'assistant', content: '', status: 'complete', parts });
  assert.deepEqual(calls.revertible(message), ['w1', 'w3']);
  assert.deepEqual(calls.revertible({ ...message, status: 'streaming' }), [], 'not while it runs');
  assert.deepEqual(calls.revert(message), []);
  assert.deepEqual(asked, [['w1', 'w3']], 'in the reply\'s order: the page undoes them from the last');
  const none = new PageCalls(/** @type {any} */ ({}), () => 'not in a notebook', new AbortController().signal);
  assert.deepEqual(none.revertible(message), []);
});
