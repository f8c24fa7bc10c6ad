// @ts-check
/**
 * How to take back each page write call a run made (pagetools.js), kept in this browser's
 * localStorage under the call's id (the server's own, unique across conversations): a
 * reload, or a second tab in this browser, still offers a finished reply's Revert. Another
 * browser never saw the writes and offers none. Storage refused (a sandboxed page): kept
 * in the page only, as before.
 */

export const UNDO_PREFIX = 'jupyter-resumechat:undo:';
/** The newest this many records are kept; older ones go (their replies no longer offer Revert). */
export const KEPT = 200;
/** A deleted cell kept larger than this (its outputs: images) is kept without its outputs. */
export const CELL_CHARS = 200_000;

/**
 * @typedef {{kind: 'insert', id: string, left: string}
 *           | {kind: 'edit', id: string, source: string, left: string}
 *           | {kind: 'delete', id: string, after: string | null, index: number, cell: any}} Undo
 *   how to take back one write call: delete the inserted cell, restore the edited cell's old
 *   source, put the deleted cell (its id, type, source) back after the cell it followed;
 *   `left`: the source the call left, so a cell changed since is not taken back
 */

export class Undos {
  /** @param {Storage | null} storage */
  constructor(storage) {
    this.storage = storage;
    /** @type {Map<string, Undo>} what this page made, whatever the storage did */
    this.here = new Map();
  }

  /** @param {string} callId @param {Undo} undo */
  set(callId, undo) {
    this.here.set(callId, undo);
    let kept = undo;
    if (undo.kind === 'delete' && JSON.stringify(undo.cell).length > CELL_CHARS) {
      kept = { ...undo, cell: { ...undo.cell, outputs: [] } };
    }
    try {
      this.storage?.setItem(UNDO_PREFIX + callId, JSON.stringify({ at: Date.now(), undo: kept }));
      this.prune();
    } catch (_) { /* full or refused: this page still has it */ }
  }

  /** @param {string} callId @returns {Undo | null} */
  get(callId) {
    const mine = this.here.get(callId);
    if (mine) return mine;
    try {
      const raw = this.storage?.getItem(UNDO_PREFIX + callId);
      const undo = raw ? JSON.parse(raw).undo : null;
      return undo && typeof undo.kind === 'string' && typeof undo.id === 'string' ? undo : null;
    } catch (_) { return null; } // unreadable: nothing to take back
  }

  /** @param {string} callId */
  has(callId) { return this.get(callId) !== null; }

  /** @param {string} callId */
  delete(callId) {
    this.here.delete(callId);
    try { this.storage?.removeItem(UNDO_PREFIX + callId); } catch (_) { /* gone with the page */ }
  }

  /** Only the newest KEPT records stay. */
  prune() {
    const storage = this.storage;
    if (!storage) return;
    /** @type {[string, number][]} */
    const found = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (!key?.startsWith(UNDO_PREFIX)) continue;
      let at = 0;
      try { at = Number(JSON.parse(storage.getItem(key) || '{}').at) || 0; } catch (_) { /* oldest */ }
      found.push([key, at]);
    }
    if (found.length <= KEPT) return;
    found.sort((a, b) => a[1] - b[1]);
    for (const [key] of found.slice(0, found.length - KEPT)) storage.removeItem(key);
  }
}
