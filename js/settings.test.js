// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSettings, sends } from './settings.js';

const key = (/** @type {any} */ over) => ({ key: 'Enter', shiftKey: false, altKey: false, ctrlKey: false, metaKey: false, isComposing: false, ...over });

test('Enter sends by default; Shift+Enter never does', () => {
  assert.equal(sends(key({}), 'Enter'), true);
  assert.equal(sends(key({ ctrlKey: true }), 'Enter'), true);
  assert.equal(sends(key({ shiftKey: true }), 'Enter'), false);
  assert.equal(sends(key({ key: 'a' }), 'Enter'), false);
});

test('with Ctrl+Enter chosen, a plain Enter is a new line', () => {
  assert.equal(sends(key({}), 'Ctrl+Enter'), false);
  assert.equal(sends(key({ ctrlKey: true }), 'Ctrl+Enter'), true);
  assert.equal(sends(key({ metaKey: true }), 'Ctrl+Enter'), true);
  assert.equal(sends(key({ isComposing: true, ctrlKey: true }), 'Ctrl+Enter'), false);
});

test('a setting missing or of the wrong type is the default', () => {
  assert.deepEqual(readSettings(undefined), { sendWith: 'Enter', defaultModel: '', agentMode: false });
  assert.deepEqual(readSettings({ sendWith: 'Tab', defaultModel: 3, agentMode: 'yes' }), { sendWith: 'Enter', defaultModel: '', agentMode: false });
  assert.deepEqual(readSettings({ sendWith: 'Ctrl+Enter', defaultModel: ' m1 ', agentMode: true }),
    { sendWith: 'Ctrl+Enter', defaultModel: 'm1', agentMode: true });
});
