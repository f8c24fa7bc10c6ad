// @ts-check
// The undo records of a run's page writes (undos.js), as a reload finds them: `node --test js/`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CELL_CHARS, KEPT, UNDO_PREFIX, Undos } from './undos.js';

/** A Storage over a Map, as the browser's localStorage answers. */
function storage() {
  /** @type {Map<string, string>} */
  const items = new Map();
  return /** @type {Storage} */ (/** @type {unknown} */ ({
    get length() { return items.size; },
    key: (/** @type {number} */ i) => [...items.keys()][i] ?? null,
    getItem: (/** @type {string} */ k) => items.get(k) ?? null,
    setItem: (/** @type {string} */ k, /** @type {string} */ v) => { items.set(k, v); },
    removeItem: (/** @type {string} */ k) => { items.delete(k); },
    items,
  }));
}

test('a record made before a reload is found by the next page in the same browser', () => {
  const kept = storage();
  new Undos(kept).set('c1', { kind: 'edit', id: 'a', source: 'x = 1', left: 'x = 2' });
  const after = new Undos(kept);
  assert.deepEqual(after.get('c1'), { kind: 'edit', id: 'a', source: 'x = 1', left: 'x = 2' });
  assert.equal(after.has('c2'), false);
  after.delete('c1');
  assert.equal(new Undos(kept).has('c1'), false);
});

test('only the newest records are kept; a huge deleted cell is kept without its outputs', () => {
  const kept = storage();
  const undos = new Undos(kept);
  let now = 0;
  const real = Date.now;
  Date.now = () => ++now;
  try {
    for (let i = 0; i < KEPT + 5; i++) undos.set(`c${i}`, { kind: 'insert', id: `cell${i}`, left: '' });
  } finally { Date.now = real; }
  const fresh = new Undos(kept);
  assert.equal(fresh.has('c0'), false);
  assert.equal(fresh.has('c4'), false);
  assert.equal(fresh.has('c5'), true);
  assert.equal(fresh.has(`c${KEPT + 4}`), true);
  const big = { id: 'b', cell_type: 'code', source: 'plot()', outputs: [{ data: { 'image/png': 'A'.repeat(CELL_CHARS) } }] };
  undos.set('big', { kind: 'delete', id: 'b', after: null, index: 0, cell: big });
  assert.deepEqual(undos.get('big'), { kind: 'delete', id: 'b', after: null, index: 0, cell: big }, 'this page keeps it whole');
  assert.deepEqual(new Undos(kept).get('big'), { kind: 'delete', id: 'b', after: null, index: 0, cell: { ...big, outputs: [] } });
});

test('storage that refuses or holds garbage: kept in the page, nothing read back', () => {
  const refusing = /** @type {Storage} */ (/** @type {unknown} */ ({
    length: 0, key: () => null, getItem: () => { throw new Error('denied'); },
    setItem: () => { throw new Error('denied'); }, removeItem: () => { throw new Error('denied'); },
  }));
  const undos = new Undos(refusing);
  undos.set('c1', { kind: 'insert', id: 'a', left: '' });
  assert.equal(undos.has('c1'), true);
  undos.delete('c1');
  assert.equal(undos.has('c1'), false);
  const kept = storage();
  kept.setItem(`${UNDO_PREFIX}c9`, '{not json');
  kept.setItem(`${UNDO_PREFIX}c8`, JSON.stringify({ at: 1, undo: { kind: 'edit' } }));
  assert.equal(new Undos(kept).has('c9'), false);
  assert.equal(new Undos(kept).has('c8'), false);
  assert.equal(new Undos(null).has('c1'), false);
});
