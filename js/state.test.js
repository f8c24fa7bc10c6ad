// @ts-check
// Unit tests of the pure state machine, SSE parsing and ids: `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from './api.js';
import { parseBlocks } from './sse.js';
import { backoff, composer, initial, reduce, replyActions, replyMeta, statusText } from './state.js';

/** @typedef {import('./state.js').State} State */

/**
 * @param {string} id @param {'user' | 'assistant'} role @param {string} content @param {string} [status]
 * @returns {import('./state.js').Message}
 */
const msg = (id, role, content, status = 'complete') => ({ id, role, content, status });

/**
 * @param {State} state @param {number} request @param {any[]} messages @param {any} status
 * @returns {State}
 */
function loaded(state, request, messages, status) {
  return reduce(reduce(state, { type: 'load', request }), { type: 'loaded', request, messages, status });
}

/** @param {State} state */
function streaming(state) {
  assert.equal(state.phase.kind, 'streaming');
  return /** @type {Extract<import('./state.js').Phase, {kind: 'streaming'}>} */ (state.phase);
}

const idle = () => loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', 'yo')], { active: false });
const result = (reply = 'b', content = '') => ({
  user_message: msg('u2', 'user', 'next'), assistant_message: { ...msg(reply, 'assistant', content, 'streaming') },
  stream_id: 's2',
});

test('render: an inactive status holds no stream (rule 5, 7)', () => {
  const s = idle();
  assert.equal(s.phase.kind, 'idle');
  assert.equal(s.messages.length, 2);
  assert.deepEqual(composer(s), { action: 'send', enabled: true, busy: false });
});

test('render: an active stream is attached with its live text as partial', () => {
  const s = loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', 'par', 'streaming')],
    { active: true, stream_id: 's', message_id: 'a' });
  const phase = streaming(s);
  assert.equal(phase.streamId, 's');
  assert.deepEqual(s.messages.map((m) => m.id), ['u']);
  assert.equal(phase.partial.content, 'par');
  assert.equal(composer(s).action, 'stop');
});

test('a superseded status answer is ignored (rule 5)', () => {
  let s = reduce(initial(), { type: 'load', request: 1 });
  s = reduce(s, { type: 'load', request: 2 });
  s = reduce(s, { type: 'loaded', request: 1, messages: [msg('x', 'user', 'old')], status: { active: false } });
  assert.equal(s.phase.kind, 'loading');
  assert.equal(s.messages.length, 0);
});

test('every refusal of a send leaves a sendable state and says why (rule 9)', () => {
  for (const detail of ['409', '413 too long', '400', '503 down', 'network']) {
    let s = reduce(idle(), { type: 'sending', what: 'message' });
    assert.equal(s.phase.kind, 'sending');
    assert.equal(composer(s).enabled, false);
    s = reduce(s, { type: 'refused', detail });
    assert.equal(s.phase.kind, 'idle');
    assert.equal(composer(s).enabled, true);
    assert.equal(s.notice, detail);
    assert.equal(s.messages.length, 2); // nothing invented, nothing lost
  }
});

test('a refusal while a reply streams keeps the stream', () => {
  let s = reduce(idle(), { type: 'sending', what: 'message' });
  s = reduce(s, { type: 'sent', result: result() });
  s = reduce(s, { type: 'refused', detail: 'x' });
  assert.equal(streaming(s).streamId, 's2');
});

test('deltas dedupe by id and the final replaces the partial (rules 2, 4)', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  const sse = (/** @type {number} */ id, /** @type {string} */ event, /** @type {any} */ data) =>
    ({ type: 'sse', streamId: 's2', event: { id, event, data } });
  s = reduce(s, sse(1, 'delta', { text: 'Hel' }));
  s = reduce(s, sse(2, 'delta', { reasoning: 'think' }));
  s = reduce(s, sse(2, 'delta', { text: 'DUP' }));
  s = reduce(s, sse(3, 'delta', { text: 'lo' }));
  assert.equal(streaming(s).partial.content, 'Hello');
  assert.equal(streaming(s).partial.reasoning, 'think');
  s = reduce(s, sse(9, 'delta', { text: '!' }));
  const other = reduce(s, { type: 'sse', streamId: 'old', event: { id: 10, event: 'delta', data: { text: 'X' } } });
  assert.equal(other, s); // events of another stream change nothing
  const final = msg('b', 'assistant', 'Hello!');
  s = reduce(s, sse(10, 'final', { message: final }));
  assert.equal(s.phase.kind, 'idle');
  assert.equal(s.finished, final);
  assert.deepEqual(s.messages.map((m) => m.id), ['u', 'a', 'u2', 'b']);
});

test('regenerate and continue keep the reply in its place and add no user turn', () => {
  const failed = msg('a', 'assistant', 'partial', 'error');
  let s = loaded(initial(), 1, [msg('u', 'user', 'hi'), failed], { active: false });
  assert.deepEqual(replyActions(s, s.messages[1]), ['retry', 'continue']);
  s = reduce(s, { type: 'sending', what: 'continue' });
  assert.deepEqual(replyActions(s, s.messages[1]), []); // nothing to click twice
  s = reduce(s, { type: 'sent', result: { user_message: msg('u', 'user', 'hi'),
    assistant_message: msg('a', 'assistant', 'partial', 'streaming'), stream_id: 's3' } });
  assert.deepEqual(s.messages.map((m) => m.id), ['u']);
  assert.equal(streaming(s).partial.content, 'partial');
  assert.equal(streaming(s).partial.messageId, 'a');
});

test('actions: only on the latest reply, Continue after Stop and interruption', () => {
  const s = loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', 'x', 'aborted'),
    msg('u2', 'user', 'again'), msg('b', 'assistant', 'y', 'interrupted')], { active: false });
  assert.deepEqual(replyActions(s, s.messages[1]), []);
  assert.deepEqual(replyActions(s, s.messages[3]), ['continue', 'regenerate']);
  const empty = loaded(initial(), 1, [msg('u', 'user', 'hi'), msg('a', 'assistant', '', 'error')], { active: false });
  assert.deepEqual(replyActions(empty, empty.messages[1]), ['retry']);
});

test('reconnecting shows, and the next event clears it', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, { type: 'reconnecting', streamId: 's2' });
  assert.equal(statusText(s), 'Reconnecting…');
  s = reduce(s, { type: 'sse', streamId: 's2', event: { id: 1, event: 'delta', data: { text: 'a' } } });
  assert.equal(statusText(s), 'Streaming…');
});

test('404 forgets the partial and reloads without a banner (rule 3)', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, { type: 'gone' });
  assert.equal(s.phase.kind, 'loading');
  assert.equal(s.notice, null);
});

test('a load while attached keeps what was read', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, { type: 'sse', streamId: 's2', event: { id: 4, event: 'delta', data: { text: 'abc' } } });
  s = loaded(s, 7, [msg('u2', 'user', 'next'), msg('b', 'assistant', 'ab', 'streaming')],
    { active: true, stream_id: 's2', message_id: 'b' });
  assert.equal(streaming(s).lastId, 4);
  assert.equal(streaming(s).partial.content, 'abc');
});

test('a reply says its model, time and tokens', () => {
  const m = { ...msg('a', 'assistant', 'x'), model: 'gpt-x', created_at: '2026-11-25T10:42:00Z',
    usage: { input_tokens: 12, output_tokens: 34 } };
  assert.equal(replyMeta(m), 'gpt-x · 10:42 · 12 in · 34 out tokens');
  assert.equal(replyMeta(msg('b', 'assistant', 'x')), '');
});

test('backoff grows, is jittered and bounded', () => {
  assert.equal(backoff(1, () => 0), 125);
  assert.equal(backoff(1, () => 1), 250);
  assert.ok(backoff(3, () => 0.5) > backoff(2, () => 0.5));
  assert.equal(backoff(40, () => 1), 10000);
});

test('ids need no secure context', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  try {
    Object.defineProperty(globalThis, 'crypto', { value: { getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) }, configurable: true });
    const a = newId(); const b = newId();
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.notEqual(a, b);
    Object.defineProperty(globalThis, 'crypto', { value: undefined, configurable: true });
    assert.match(newId(), /^[0-9a-f]{32}$/);
  } finally {
    if (saved) Object.defineProperty(globalThis, 'crypto', saved);
  }
});

test('SSE blocks parse across chunk boundaries, comments skipped', () => {
  const [events, rest] = parseBlocks(': keepalive\n\nid: 1\nevent: delta\ndata: {"text":"a"}\n\nid: 2\nev');
  assert.deepEqual(events, [{ id: 1, event: 'delta', data: { text: 'a' } }]);
  assert.equal(rest, 'id: 2\nev');
  const [crlf] = parseBlocks('id: 3\r\nevent: final\r\ndata: {"message":{}}\r\n\r\n');
  assert.equal(crlf[0].event, 'final');
});

test('a status answer that predates our send does not stop the reply (rule 5)', () => {
  let s = reduce(idle(), { type: 'sending', what: 'message' });
  s = reduce(s, { type: 'sent', result: result(), request: 5 });
  const stale = reduce(s, { type: 'loaded', request: 4, messages: [], status: { active: false } });
  assert.equal(stale, s); // older than the send
  const early = reduce(reduce(s, { type: 'load', request: 6 }),
    { type: 'loaded', request: 6, messages: [msg('u2', 'user', 'next')], status: { active: false } });
  assert.equal(streaming(early).streamId, 's2'); // our reply is not committed in it: keep reading
  const done = reduce(reduce(s, { type: 'load', request: 7 }),
    { type: 'loaded', request: 7, messages: [msg('u2', 'user', 'next'), msg('b', 'assistant', 'x')], status: { active: false } });
  assert.equal(done.phase.kind, 'idle');
});

test("an abort's answer ends the reply even if its final never arrives", () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, { type: 'ended', message: msg('other', 'assistant', 'x', 'aborted') });
  assert.equal(s.phase.kind, 'streaming'); // not ours
  s = reduce(s, { type: 'ended', message: msg('b', 'assistant', 'partial', 'aborted') });
  assert.equal(s.phase.kind, 'idle');
  assert.equal(s.messages[s.messages.length - 1].status, 'aborted');
});

// Tool calls: a reply is its parts, in order (docs/protocol.md `Part`, the `tool` event).

/** @param {string} id @param {string} status @param {any} [extra] @returns {import('./state.js').ToolCall} */
const call = (id, status, extra = {}) => ({ id, name: 'file_read', arguments: { path: 'a.txt' }, runs_on: 'server', status,
  result: null, error: null, decision: null, claimed_by: null, created_at: 't', updated_at: 't', ...extra });
/** @param {number} id @param {string} event @param {any} data */
const ev = (id, event, data) => ({ type: 'sse', streamId: 's2', event: { id, event, data } });
/** @param {State} s */
const parts = (s) => streaming(s).partial.parts;

test('a snapshot with parts: deltas extend the last part of their kind, a call starts its own', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, ev(1, 'snapshot', { message_id: 'b', content: 'Hi', reasoning: '', status: 'streaming',
    parts: [{ type: 'text', text: 'Hi' }] }));
  s = reduce(s, ev(2, 'delta', { text: ' there' }));
  s = reduce(s, ev(3, 'tool', { call: call('c1', 'running') }));
  s = reduce(s, ev(4, 'delta', { reasoning: 'hmm' }));
  s = reduce(s, ev(5, 'delta', { text: 'Done.' }));
  assert.deepEqual(parts(s), [{ type: 'text', text: 'Hi there' }, { type: 'tool', call: call('c1', 'running') },
    { type: 'reasoning', text: 'hmm' }, { type: 'text', text: 'Done.' }]);
  assert.equal(streaming(s).partial.content, 'Hi thereDone.'); // content is still the text parts joined
});

test('a tool event replaces its call in place; a repeated event id changes nothing (rule 2)', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, ev(1, 'snapshot', { message_id: 'b', content: '', reasoning: '', status: 'streaming', parts: [] }));
  s = reduce(s, ev(2, 'tool', { call: call('c1', 'awaiting_approval') }));
  s = reduce(s, ev(3, 'tool', { call: call('c2', 'proposed') }));
  const before = s;
  assert.equal(reduce(s, ev(3, 'tool', { call: call('c2', 'done') })), before);
  s = reduce(s, ev(4, 'tool', { call: call('c1', 'denied', { decision: { decision: 'deny', note: null, at: 't' } }) }));
  const got = /** @type {any[]} */ (parts(s));
  assert.deepEqual(got.map((p) => [p.call.id, p.call.status]), [['c1', 'denied'], ['c2', 'proposed']]);
  assert.equal(got[1], /** @type {any[]} */ (parts(before))[1]); // the other call's part is the same object: not redrawn
});

test('arguments stream raw onto their call until the call event arrives', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, ev(1, 'snapshot', { message_id: 'b', content: '', reasoning: '', status: 'streaming', parts: [] }));
  s = reduce(s, ev(2, 'delta', { tool_arguments: { call_id: 'c1', text: '{"pa' } }));
  s = reduce(s, ev(3, 'delta', { tool_arguments: { call_id: 'c1', text: 'th": "a' } }));
  let got = /** @type {any[]} */ (parts(s));
  assert.equal(got.length, 1);
  assert.equal(got[0].call.id, 'c1');
  assert.equal(got[0].argumentsText, '{"path": "a');
  s = reduce(s, ev(4, 'tool', { call: call('c1', 'awaiting_approval') }));
  got = /** @type {any[]} */ (parts(s));
  assert.deepEqual(got, [{ type: 'tool', call: call('c1', 'awaiting_approval') }]);
  s = reduce(s, ev(5, 'delta', { tool_arguments: { call_id: 'c1', text: 'x' } })); // announced first, then formed
  assert.equal(/** @type {any[]} */ (parts(s))[0].argumentsText, 'x');
  assert.equal(streaming(s).partial.content, ''); // arguments are not the reply's text
});

test('an older server sends no parts: the partial keeps none and the reply is its content, as before', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, ev(1, 'snapshot', { message_id: 'b', content: 'Hel', reasoning: '', status: 'streaming' }));
  s = reduce(s, ev(2, 'delta', { text: 'lo' }));
  assert.equal(parts(s), null);
  assert.equal(streaming(s).partial.content, 'Hello');
  s = reduce(s, ev(3, 'tool', { call: call('c1', 'running') })); // a call after all: what was read comes first
  assert.deepEqual(parts(s), [{ type: 'text', text: 'Hello' }, { type: 'tool', call: call('c1', 'running') }]);
});

test('a live reply found on load keeps its parts; the final brings the committed ones', () => {
  const live = { ...msg('a', 'assistant', 'x', 'streaming'), parts: [{ type: 'tool', call: call('c1', 'awaiting_approval') }] };
  let s = loaded(initial(), 1, [msg('u', 'user', 'hi'), live], { active: true, stream_id: 's2', message_id: 'a' });
  assert.deepEqual(parts(s), live.parts);
  const final = { ...msg('a', 'assistant', 'ok'), parts: [{ type: 'tool', call: call('c1', 'done') }, { type: 'text', text: 'ok' }] };
  s = reduce(s, ev(7, 'final', { message: final }));
  assert.equal(s.phase.kind, 'idle');
  assert.deepEqual(s.messages[1].parts, final.parts);
});

test('empty parts beside text (a reply written before parts existed) leave the reply its content', () => {
  let s = reduce(idle(), { type: 'sent', result: result() });
  s = reduce(s, ev(1, 'snapshot', { message_id: 'b', content: 'old text', reasoning: '', status: 'streaming', parts: [] }));
  assert.equal(parts(s), null);
  s = reduce(s, ev(2, 'snapshot', { message_id: 'b', content: '', reasoning: '', status: 'streaming', parts: [] }));
  assert.deepEqual(parts(s), []); // a run that has said nothing yet
});
