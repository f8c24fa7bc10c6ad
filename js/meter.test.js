// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contextMeter, estimate, meterText } from './meter.js';

/** @returns {import('./state.js').Message} @param {Partial<import('./state.js').Message>} rest */
const msg = (rest) => ({ id: 'x', role: 'user', content: '', status: 'complete', ...rest });

test('estimate counts UTF-8 bytes by four, as the server does', () => {
  assert.equal(estimate(''), 0);
  assert.equal(estimate('abcde'), 2);
  assert.equal(estimate('日本'), 2);
});

test('before any reply: the conversation estimated against the model budget', () => {
  assert.equal(contextMeter([], null), null);
  const meter = contextMeter([msg({ content: 'a'.repeat(40) })], 1000);
  assert.deepEqual(meter, { used: 14, budget: 1000, omitted: 0, estimated: true });
});

test('after a reply: what it sent (the model count when reported) plus the reply and what came after', () => {
  const reply = msg({ role: 'assistant', content: 'b'.repeat(40), window: { budget: 500, tokens: 100, omitted: 2 } });
  assert.deepEqual(contextMeter([msg({}), reply], 9), { used: 100 + 14, budget: 500, omitted: 2, estimated: true });
  const counted = { ...reply, usage: { input_tokens: 80, output_tokens: 30 } };
  const later = msg({ content: 'c'.repeat(8) });
  assert.deepEqual(contextMeter([counted, later], 9), { used: 80 + 34 + 6, budget: 500, omitted: 2, estimated: false });
});

test('another model chosen: its budget, not the last reply\'s', () => {
  const reply = msg({ role: 'assistant', model: 'small', content: 'b'.repeat(40), window: { budget: 500, tokens: 100, omitted: 0 } });
  assert.equal(contextMeter([reply], 9000, 'big')?.budget, 9000);
  assert.equal(contextMeter([reply], 9000, 'small')?.budget, 500);
});

test('the meter words', () => {
  assert.equal(meterText({ used: 950, budget: 16384, omitted: 0, estimated: true }), 'Context ~950 / 16k tokens');
  assert.equal(meterText({ used: 1234, budget: 8000, omitted: 1, estimated: false }),
    'Context 1.2k / 8.0k tokens · 1 earlier message left out');
});
