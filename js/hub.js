// @ts-check
/**
 * One event-stream connection per page for every reply its chat views follow
 * (issue 14; docs/protocol.md#one-connection): HTTP/1.1 allows six connections per origin across
 * all tabs, and JupyterLab needs them too.  The hub reads `GET streams/events`
 * for the streams its followers want, each from its followers' last id, and
 * hands each event to the followers of its stream.
 *
 * When the streams change it reconnects once, `DEBOUNCE_MS` later, with each
 * stream's last id: eight views that start together cause one connection,
 * not eight.  After a network error, an early end or a silence of 2.5
 * heartbeats (Api.stream) it resumes the same way, with backoff and jitter,
 * and tells each follower it is reconnecting (docs/protocol.md#reconnect, #silence).  A stream
 * the server no longer has is `gone` for its followers alone (rule 3).
 *
 * The widget's bundle and the JupyterLab extension are separate module
 * instances in one page, so the hub lives on `window` under a versioned
 * name: whichever comes first makes it, the others use it.  A bundle of
 * another version makes its own (one more connection, still correct).
 */
import { backoff } from './state.js';

export const HUB_KEY = '__resumechatStreamHub_v1';
/** How long a change of streams waits for others before the connection is reopened. */
export const DEBOUNCE_MS = 30;
/** Streams one connection may carry (the server's limit); more open more connections. */
export const MAX_STREAMS = 64;

/**
 * @typedef {{lastId: () => number | null, onEvent: (sse: import('./state.js').SSE) => void,
 *            onReconnect: (attempt: number) => void, keepGoing: () => boolean, signal: AbortSignal}} Follower
 * @typedef {{root: string, stream: (path: string, signal: AbortSignal) => AsyncIterable<{id: any, event: string, data: any}>}} Source
 * @typedef {'final' | 'gone' | 'stopped'} Outcome
 * @typedef {Follower & {end: (outcome: Outcome | Error) => void}} Follow
 */

/** The page's hub for `source`'s server, made on first use. @param {Source} source @returns {StreamHub} */
export function pageHub(source) {
  const page = /** @type {any} */ (globalThis);
  const hubs = page[HUB_KEY] || (page[HUB_KEY] = {});
  return hubs[source.root] || (hubs[source.root] = new StreamHub(source));
}

export class StreamHub {
  /** @param {Source} source */
  constructor(source) {
    this.source = source;
    /** @type {Map<string, Set<Follow>>} */
    this.follows = new Map();
    /** @type {Map<string, number | null>} the last id the open connection gave for each stream */
    this.reading = new Map();
    /** @type {AbortController | null} */
    this.connection = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.opened = 0; // connections opened so far (for tests and benchmarks)
  }

  /**
   * Follow `sid` to its final; resolves as Api.follow does.
   * @param {string} sid @param {Follower} how @returns {Promise<Outcome>}
   */
  follow(sid, how) {
    return new Promise((resolve, reject) => {
      if (how.signal.aborted || !how.keepGoing()) { resolve('stopped'); return; }
      const onAbort = () => follow.end('stopped');
      /** @type {Follow} */
      const follow = { ...how, end: (outcome) => {
        const set = this.follows.get(sid);
        if (!set || !set.delete(follow)) return; // ended already
        if (!set.size) this.follows.delete(sid);
        how.signal.removeEventListener('abort', onAbort);
        if (!this.follows.size) this.schedule(); // nobody left: close the connection
        if (outcome instanceof Error) reject(outcome); else resolve(outcome);
      } };
      how.signal.addEventListener('abort', onAbort);
      this.follows.set(sid, (this.follows.get(sid) || new Set()).add(follow));
      if (this.behind(sid, how.lastId())) this.schedule();
    });
  }

  /** Whether the open connection lacks what a new follower at `lastId` needs. @param {string} sid @param {number | null} lastId */
  behind(sid, lastId) {
    if (!this.connection || !this.reading.has(sid)) return true;
    const at = this.reading.get(sid);
    if (at === null || at === undefined) return false; // its snapshot is still to come
    return lastId === null || lastId < at;
  }

  schedule() {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.reconnect(); }, DEBOUNCE_MS);
  }

  /** Close the connection and open one for the streams followed now, from their last ids. */
  reconnect() {
    this.connection?.abort();
    this.connection = null;
    this.reading.clear();
    for (const set of this.follows.values()) for (const follow of [...set]) if (!follow.keepGoing()) follow.end('stopped');
    if (!this.follows.size) return;
    const connection = this.connection = new AbortController();
    const sids = [...this.follows.keys()];
    for (let i = 0; i < sids.length; i += MAX_STREAMS) this.run(sids.slice(i, i + MAX_STREAMS), connection.signal);
  }

  /** Where to read `sid` from: the oldest of its followers' last ids. @param {string} sid */
  position(sid) {
    let at = Infinity;
    for (const follow of this.follows.get(sid) || []) {
      const last = follow.lastId();
      if (last === null) return null;
      at = Math.min(at, last);
    }
    return at === Infinity ? null : at;
  }

  /**
   * One connection for `sids`, resumed until they have all ended or `signal` aborts.
   * @param {string[]} sids @param {AbortSignal} signal
   */
  async run(sids, signal) {
    let attempt = 0;
    for (;;) {
      const wanted = sids.filter((sid) => this.follows.has(sid));
      if (!wanted.length || signal.aborted) return;
      try {
        this.opened += 1;
        for await (const sse of this.source.stream(`streams/events?streams=${this.query(wanted)}`, signal)) {
          if (signal.aborted) return; // events parsed before the abort: the next connection has them
          attempt = 0;
          this.deliver(sse);
        }
      } catch (error) {
        if (signal.aborted) return;
        const status = /** @type {any} */ (error)?.status;
        if (typeof status === 'number' && status < 500 && status !== 429) { this.fail(wanted, /** @type {Error} */ (error)); return; }
      }
      const left = wanted.filter((sid) => this.follows.has(sid));
      if (!left.length || signal.aborted) return; // every stream ended: the server closed the response
      attempt += 1;
      for (const sid of left) for (const follow of [...this.follows.get(sid) || []]) follow.onReconnect(attempt);
      await sleep(backoff(attempt), signal);
    }
  }

  /** `sid:last,…` for the query, noting where the connection starts each stream. @param {string[]} sids */
  query(sids) {
    return sids.map((sid) => {
      const at = this.position(sid);
      this.reading.set(sid, at);
      return encodeURIComponent(at === null ? sid : `${sid}:${at}`);
    }).join(',');
  }

  /** Hand one event to its stream's followers. @param {{id: any, event: string, data: any}} sse */
  deliver(sse) {
    if (sse.event === 'gone') { this.endAll(String(sse.data && sse.data.stream_id), 'gone'); return; }
    const tagged = /^(.+):(\d+)$/.exec(String(sse.id));
    if (!tagged) return;
    const sid = tagged[1];
    const event = { id: Number(tagged[2]), event: sse.event, data: sse.data };
    if (this.reading.has(sid)) this.reading.set(sid, event.id);
    for (const follow of [...this.follows.get(sid) || []]) {
      const last = follow.lastId();
      if (last !== null && event.id <= last) continue; // it has this one (a follower further on)
      try {
        follow.onEvent(event);
      } catch (error) {
        follow.end(/** @type {Error} */ (error)); // one view's fault ends that view's follow only
        continue;
      }
      if (event.event === 'final') follow.end('final');
      else if (!follow.keepGoing()) follow.end('stopped');
    }
    if (event.event === 'final') this.endAll(sid, 'gone'); // none is left waiting on a stream that ended
  }

  /** @param {string} sid @param {Outcome} outcome */
  endAll(sid, outcome) {
    this.reading.delete(sid);
    for (const follow of [...this.follows.get(sid) || []]) follow.end(outcome);
  }

  /** The server refused the connection (400, 403…): every follower of it hears why. @param {string[]} sids @param {Error} error */
  fail(sids, error) {
    for (const sid of sids) for (const follow of [...this.follows.get(sid) || []]) follow.end(error);
  }
}

/** @param {number} ms @param {AbortSignal} signal */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() { clearTimeout(timer); signal.removeEventListener('abort', done); resolve(undefined); }
    signal.addEventListener('abort', done);
  });
}
