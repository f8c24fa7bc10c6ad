// @ts-check
// Unit tests of the pure state machine and SSE parsing: `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBlocks } from './sse.js';
import { backoff, initial, reduce, statusText } from './state.js';

/** @typedef {import('./state.js').State} State */

/**
 * @param {string} id @param {string} role @param {string} content @param {string} [status]
 * @returns {any}
 */
const msg = (id, role, content, status = 'complete') => ({ id, role, content, status });

/**
 * @param {State} state @param {number} request @param {any[]} messages @param {any} status
 * @returns {State}
 */
function loaded(state, request, messages, status) {
  return reduce(reduce(state, { type: 'load', request }), { type: 'loaded', request, messages, status });
}

test('render: an inactive status holds no stream (rule 5, 7)', () => {
  const s = loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', 'yo')], { active: false });
  assert.equal(s.phase, 'idle');
  assert.equal(s.streamId, null);
  assert.equal(s.messages.length, 2);
});

test('render: an active stream is attached with its live text as partial', () => {
  const s = loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', 'par', 'streaming')],
    { active: true, stream_id: 's', message_id: 'a' });
  assert.equal(s.phase, 'streaming');
  assert.equal(s.streamId, 's');
  assert.deepEqual(s.messages.map((m) => m.id), ['u']);
  assert.equal(s.partial?.content, 'par');
});

test('a superseded status answer is ignored (rule 5)', () => {
  let s = reduce(initial(), { type: 'load', request: 1 });
  s = reduce(s, { type: 'load', request: 2 });
  s = reduce(s, { type: 'loaded', request: 1, messages: [], status: { active: false } });
  assert.equal(s.phase, 'loading');
});

test('sending after an inactive check still attaches (stale status does not suppress)', () => {
  let s = loaded(initial(), 1, [], { active: false });
  s = reduce(s, { type: 'sending' });
  s = reduce(s, { type: 'sent', result: { stream_id: 's2', user_message: msg('u2', 'user', 'q'),
    assistant_message: msg('a2', 'assistant', '', 'streaming') } });
  assert.equal(s.phase, 'streaming');
  assert.equal(s.streamId, 's2');
});

test('snapshot, deltas deduped by id, final replaces the partial (rules 2, 4)', () => {
  let s = reduce(initial(), { type: 'sent', result: { stream_id: 's', user_message: msg('u', 'user', 'q'),
    assistant_message: msg('a', 'assistant', '', 'streaming') } });
  /** @param {number} id @param {string} event @param {any} data */
  const sse = (id, event, data) => ({ type: 'sse', event: { id, event, data } });
  s = reduce(s, sse(2, 'snapshot', { message_id: 'a', content: 'ab', reasoning: '' }));
  s = reduce(s, sse(3, 'delta', { text: 'c' }));
  s = reduce(s, sse(3, 'delta', { text: 'c' }));
  s = reduce(s, sse(2, 'delta', { text: 'X' }));
  s = reduce(s, sse(4, 'delta', { text: 'é😀' }));
  assert.equal(s.partial?.content, 'abcé😀');
  s = reduce(s, sse(5, 'final', { message: msg('a', 'assistant', 'abcé😀') }));
  assert.equal(s.partial, null);
  assert.equal(s.phase, 'idle');
  assert.deepEqual(s.messages.map((m) => m.content), ['q', 'abcé😀']);
});

test('network error shows reconnecting; 404 clears partial state with no error (rule 3)', () => {
  let s = reduce(initial(), { type: 'sent', result: { stream_id: 's', user_message: msg('u', 'user', 'q'),
    assistant_message: msg('a', 'assistant', '', 'streaming') } });
  s = reduce(s, { type: 'network-error' });
  assert.equal(s.phase, 'reconnecting');
  assert.equal(statusText(s), 'Reconnecting…');
  s = reduce(s, { type: 'connected' });
  assert.equal(s.phase, 'streaming');
  s = reduce(s, { type: 'gone' });
  assert.equal(s.partial, null);
  assert.equal(s.error, null);
  assert.equal(s.sending, false);
  assert.equal(s.streamId, null);
});

test('status words for interrupted and error replies', () => {
  const s = loaded(initial(), 1, [msg('u', 'user', 'q'), msg('a', 'assistant', 'half', 'interrupted')], { active: false });
  assert.match(statusText(s), /interrupted/);
});

test('backoff grows, is jittered and bounded', () => {
  assert.equal(backoff(1, () => 0), 125);
  assert.equal(backoff(3, () => 1), 1000);
  assert.ok(backoff(50, () => 1) <= 10000);
});

test('SSE parsing: blocks, comments, CRLF, partial rest', () => {
  const [events, rest] = parseBlocks('retry: 2000\n\n: keepalive\n\nid: 1\r\nevent: delta\r\ndata: {"text":"é"}\r\n\r\nid: 2\nevent: del');
  assert.deepEqual(events, [{ id: 1, event: 'delta', data: { text: 'é' } }]);
  assert.equal(rest, 'id: 2\nevent: del');
});
