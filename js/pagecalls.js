// @ts-check
/**
 * Which view runs a page call, and the claim → renew → result loop (docs/protocol.md#agent-runs, 4).
 *
 * A page call (`runs_on: "page"`) that is `approved` and claimed by nobody is run by one
 * view: the view that approved it, or sent the run, claims it at once; any other view of
 * a notebook claims it only if it is still unclaimed after `GRACE_MS` (its sender left).
 * The first claim wins on the server (409 to the others); the winner renews the claim
 * every third of the lease while the tool runs, then posts the result once.  A view with
 * no notebook (a side-panel chat) claims only what it started, and only if no notebook's
 * view took it within twice the grace: it answers the error that it has none.
 * `plan` is pure (tested with node); the loop is `PageCalls`.
 */
import { ApiError, newId } from './api.js';

/** How long a call waits for the view that started it before another view of the notebook runs it. */
export const GRACE_MS = 4000;
const RESULT_TRIES = 4;
/** The page tools that change the notebook (a reply's Revert takes them back). */
export const WRITES = ['notebook_insert_cell', 'notebook_edit_cell', 'notebook_delete_cell'];

/**
 * @typedef {import('./state.js').State} State @typedef {import('./state.js').ToolCall} ToolCall
 * @typedef {import('./pagetools.js').PageTools} PageTools
 * @typedef {{call: ToolCall, streamId: string, now: boolean}} Claimable
 */

/**
 * The page calls of the live reply that this view could claim: `now` when it started them
 * (`mine` holds the ids of calls it decided and of replies it sent), else after the grace.
 * @param {State} state @param {Set<string>} mine @param {Set<string>} handled calls already tried here
 * @returns {Claimable[]}
 */
export function plan(state, mine, handled) {
  const phase = state.phase;
  if (phase.kind !== 'streaming' || !phase.partial.parts) return [];
  /** @type {Claimable[]} */
  const found = [];
  for (const part of phase.partial.parts) {
    if (part.type !== 'tool') continue;
    const call = part.call;
    if (call.runs_on !== 'page' || call.status !== 'approved' || call.claimed_by || handled.has(call.id)) continue;
    found.push({ call, streamId: phase.streamId, now: mine.has(call.id) || mine.has(phase.partial.messageId) });
  }
  return found;
}

/** Is this call being run by another view (tab, window, or a view before a reload)? @param {ToolCall} call @param {string} clientId */
export function runningElsewhere(call, clientId) {
  return call.runs_on === 'page' && call.status === 'running' && !!call.claimed_by && call.claimed_by !== clientId;
}

export class PageCalls {
  /**
   * @param {import('./api.js').Api} api
   * @param {() => PageTools | string} tools this view's notebook's tools, or why it has none
   * @param {AbortSignal} signal the view's lifetime
   */
  constructor(api, tools, signal) {
    this.api = api;
    this.tools = tools;
    this.signal = signal;
    this.clientId = newId();
    /** @type {Set<string>} */
    this.mine = new Set();
    /** @type {Set<string>} */
    this.handled = new Set();
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.waiting = new Map();
    /** @type {State | null} */
    this.state = null;
    /** @type {Set<string>} the cells this view runs for calls now, by call id (Stop interrupts them) */
    this.runningCells = new Set();
    signal.addEventListener('abort', () => { for (const timer of this.waiting.values()) clearTimeout(timer); });
  }

  /** A call decided here, or a reply sent here: its page calls are this view's to run. @param {string} id */
  own(id) { this.mine.add(id); if (this.state) this.observe(this.state); }

  /** After every state change. @param {State} state */
  observe(state) {
    this.state = state;
    if (this.signal.aborted) return;
    for (const { call, streamId, now } of plan(state, this.mine, this.handled)) {
      const able = typeof this.tools() !== 'string';
      if (now && able) this.execute(call, streamId);
      else if (now || able) this.later(call.id, able ? GRACE_MS : 2 * GRACE_MS);
    }
  }

  /** Claim the call after `delay` ms if it is still claimable then. @param {string} id @param {number} delay */
  later(id, delay) {
    if (this.waiting.has(id)) return;
    this.waiting.set(id, setTimeout(() => {
      this.waiting.delete(id);
      const still = this.state ? plan(this.state, this.mine, this.handled).find((c) => c.call.id === id) : null;
      if (still) this.execute(still.call, still.streamId);
    }, delay));
  }

  /** Stop: a cell this view runs for the run is interrupted (the run's calls end on the server). */
  async interrupt() {
    const tools = this.tools();
    if (this.runningCells.size && typeof tools !== 'string' && tools.executing()) await tools.interrupt();
  }

  /**
   * The page write calls of a finished reply that this page made and can take back.
   * @param {import('./state.js').Message} message @returns {string[]}
   */
  revertible(message) {
    const tools = this.tools();
    if (typeof tools === 'string' || message.role !== 'assistant' || message.status === 'streaming') return [];
    const ids = (message.parts || []).flatMap((part) => (part.type === 'tool' && part.call.runs_on === 'page'
      && WRITES.includes(part.call.name) && part.call.status === 'done' ? [part.call.id] : []));
    return tools.revertible(ids);
  }

  /** Take back a reply's page edits, newest first; what could not be. @param {import('./state.js').Message} message */
  revert(message) {
    const tools = this.tools();
    return typeof tools === 'string' ? [tools] : tools.revert(this.revertible(message));
  }

  /** Claim, run while renewing the claim, post the result once. @param {ToolCall} call @param {string} sid */
  async execute(call, sid) {
    this.handled.add(call.id);
    const body = { client_id: this.clientId };
    let lease;
    try {
      lease = Number((await this.api.claim(sid, call.id, body, this.signal)).lease_seconds) || 30;
    } catch (error) {
      if (!(error instanceof ApiError && error.status < 500)) this.handled.delete(call.id); // not refused: try again later
      return;
    }
    let lost = false;
    const renew = setInterval(() => {
      this.api.claim(sid, call.id, body, this.signal).catch((error) => { if (error instanceof ApiError && error.status === 409) lost = true; });
    }, lease * 1000 / 3);
    let answer;
    if (call.name === 'notebook_run_cell') this.runningCells.add(call.id);
    try {
      const tools = this.tools();
      answer = typeof tools === 'string' ? { error: tools } : await tools.run(call.name, call.arguments, call.id);
    } finally {
      clearInterval(renew);
      this.runningCells.delete(call.id);
    }
    if (lost) return; // the call ended meanwhile (stopped, or the claim lapsed): nobody wants the result
    for (let attempt = 0; attempt < RESULT_TRIES && !this.signal.aborted; attempt++) {
      try {
        await this.api.result(sid, call.id, { ...body, ...answer }, this.signal);
        return;
      } catch (error) {
        if (error instanceof ApiError && error.status < 500) return; // 409: the call ended (a Stop)
        await new Promise((resolve) => { setTimeout(resolve, 500 * 2 ** attempt); });
      }
    }
  }
}
