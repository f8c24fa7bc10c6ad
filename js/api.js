// @ts-check
/**
 * The server's REST + SSE API from the browser (the page's base URL, cookie +
 * _xsrf auth), and an event-stream reader that takes a silence of 2.5
 * heartbeats for a dead connection (docs/protocol.md#silence).  Streams are followed
 * through the page's one connection (hub.js), which owns the reconnect
 * policy: resume with the last ids, exponential backoff and jitter (docs/protocol.md#reconnect).
 */
import { pageHub } from './hub.js';
import { readEvents } from './sse.js';

/** Silence for this many heartbeat intervals is a dead connection (docs/protocol.md#silence). */
export const SILENCE_FACTOR = 2.5;
const HEARTBEAT_HEADER = 'X-ResumeChat-Heartbeat';
const DEFAULT_HEARTBEAT_S = 15;
/** A REST call with no answer in this long is a network error (the draft stays; a re-send is safe). */
export const REQUEST_TIMEOUT_MS = 30000;

export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** The connection went quiet for too long: handled like a network error. */
export class Silence extends Error {}

/**
 * A random id for `client_id`.  `crypto.randomUUID` exists only in secure
 * contexts (not on a plain-HTTP LAN or Docker origin); getRandomValues exists
 * everywhere a browser runs.
 */
export function newId() {
  const bytes = new Uint8Array(16);
  if (globalThis.crypto && typeof globalThis.crypto.getRandomValues === 'function') {
    globalThis.crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** How long one `GET models` answers every chat of the page. */
export const MODELS_KEPT_MS = 5_000;
/** @type {Map<string, {at: number, answer: Promise<any>}>} */
const sharedModels = new Map();

/**
 * `promise`, or a rejection as soon as `signal` aborts (the shared request itself goes on
 * for the others).
 * @template T @param {Promise<T>} promise @param {AbortSignal} [signal] @returns {Promise<T>}
 */
function abortable(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(signal.reason); return; }
    const stop = () => reject(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', stop); resolve(value); },
      (error) => { signal.removeEventListener('abort', stop); reject(error); },
    );
  });
}

export class Api {
  /** @param {string} baseUrl @param {string} token */
  constructor(baseUrl, token) {
    this.root = `${baseUrl.replace(/\/?$/, '/')}resumechat/api/`;
    this.token = token;
    this.heartbeatSeconds = DEFAULT_HEARTBEAT_S; // until the server says otherwise
  }

  /** The page's Jupyter configuration (JupyterLab 4 and Notebook 7 both have it). */
  static fromPage() {
    const element = document.getElementById('jupyter-config-data');
    const config = element ? JSON.parse(element.textContent || '{}') : {};
    return new Api(config.baseUrl || '/', config.token || '');
  }

  /** @param {Record<string, string>} extra */
  headers(extra = {}) {
    /** @type {Record<string, string>} */
    const headers = { ...extra };
    if (this.token) headers.Authorization = `token ${this.token}`;
    const xsrf = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    if (xsrf) headers['X-XSRFToken'] = decodeURIComponent(xsrf[1]);
    return headers;
  }

  /**
   * One request; a non-2xx answer throws ApiError with the server's detail.
   * @param {string} method @param {string} path @param {any} [body] @param {AbortSignal} [signal]
   */
  async call(method, path, body, signal) {
    // A server that never answers (dead behind a proxy that stays open) must not
    // hold a send or a load for ever: past the timeout it is a network error.
    const request = new AbortController();
    const stop = () => request.abort();
    signal?.addEventListener('abort', stop);
    const timer = setTimeout(stop, REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(this.root + path, {
        method, signal: request.signal, credentials: 'same-origin',
        headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return await this.answer(response);
    } catch (error) {
      if (request.signal.aborted && !signal?.aborted) throw new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`);
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  /** @param {Response} response */
  async answer(response) {
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { detail: text.slice(0, 200) }; }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** @param {{key?: string, title?: string}} body @param {AbortSignal} signal */
  conversation(body, signal) { return this.call('POST', 'conversations', body, signal); }
  /** @param {string} cid @param {AbortSignal} signal */
  getConversation(cid, signal) { return this.call('GET', `conversations/${cid}`, undefined, signal); }
  /** @param {string} cid @param {AbortSignal} signal */
  messages(cid, signal) { return this.call('GET', `conversations/${cid}/messages`, undefined, signal); }
  /** @param {string} cid @param {AbortSignal} signal */
  status(cid, signal) { return this.call('GET', `conversations/${cid}/stream`, undefined, signal); }
  /** @param {string} cid @param {any} body @param {AbortSignal} signal */
  send(cid, body, signal) { return this.call('POST', `conversations/${cid}/messages`, body, signal); }
  /** @param {string} sid @param {AbortSignal} signal */
  abort(sid, signal) { return this.call('POST', `streams/${sid}/abort`, {}, signal); }
  /**
   * A decision on a tool call awaiting approval; answers the call.  409: the other decision was made first.
   * @param {string} sid the stream the call was seen on @param {string} callId
   * @param {{decision: 'approve' | 'deny', note?: string}} body @param {AbortSignal} [signal]
   */
  decide(sid, callId, body, signal) {
    return this.call('POST', `streams/${encodeURIComponent(sid)}/tools/${encodeURIComponent(callId)}/decision`, body, signal);
  }
  /**
   * Claim a page call, or renew the claim: `{lease_seconds}`; 409 when another page has it or it ended.
   * @param {string} sid @param {string} callId @param {{client_id: string}} body @param {AbortSignal} [signal]
   */
  claim(sid, callId, body, signal) { return this.call('POST', `${this.callPath(sid, callId)}/claim`, body, signal); }
  /**
   * The claimant's result of a page call (`content` or `error`).
   * @param {string} sid @param {string} callId @param {{client_id: string, content?: string, error?: string}} body
   * @param {AbortSignal} [signal]
   */
  result(sid, callId, body, signal) { return this.call('POST', `${this.callPath(sid, callId)}/result`, body, signal); }
  /** @param {string} sid @param {string} callId */
  callPath(sid, callId) { return `streams/${encodeURIComponent(sid)}/tools/${encodeURIComponent(callId)}`; }
  /** Every tool with its approval policy (a conversation's "always" included). @param {string} cid @param {AbortSignal} [signal] */
  tools(cid, signal) { return this.call('GET', `tools?conversation=${encodeURIComponent(cid)}`, undefined, signal); }
  /** Newest first. @param {AbortSignal} [signal] @param {number} [limit] */
  conversations(signal, limit = 500) { return this.call('GET', `conversations?limit=${limit}`, undefined, signal); }
  /**
   * Every conversation, newest first: pages of 500, each older than the last one seen.
   * @param {AbortSignal} [signal] @returns {Promise<{id: string, title: string, updated_at: string}[]>}
   */
  async allConversations(signal) {
    const all = [];
    for (let before = ''; ;) {
      const query = `conversations?limit=500${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const page = (await this.call('GET', query, undefined, signal)).conversations;
      all.push(...page);
      if (page.length < 500) return all;
      before = page[page.length - 1].updated_at;
    }
  }
  /** @param {string} cid @param {string} title @param {AbortSignal} [signal] */
  rename(cid, title, signal) { return this.call('PATCH', `conversations/${cid}`, { title }, signal); }
  /** @param {string} cid @param {AbortSignal} [signal] */
  remove(cid, signal) { return this.call('DELETE', `conversations/${cid}`, undefined, signal); }
  /** The server's models, one request for every chat of the page. @param {AbortSignal} [signal] */
  models(signal) {
    // every chat of a page asks at once when a notebook opens: one request for them all,
    // its answer kept a few seconds (ten saved chats made eleven of these, in the browser's
    // six connections per origin, before their messages)
    const key = `${this.root}|${this.token}`;
    const now = Date.now();
    let kept = sharedModels.get(key);
    if (!kept || now - kept.at > MODELS_KEPT_MS) {
      const answer = this.call('GET', 'models');
      kept = { at: now, answer };
      sharedModels.set(key, kept);
      answer.catch(() => { if (sharedModels.get(key)?.answer === answer) sharedModels.delete(key); });
    }
    return abortable(kept.answer, signal);
  }

  /**
   * The events of one event-stream response at `path`.  Throws ApiError for an
   * answer other than 200 (with 204 for "nothing more": the stream has ended),
   * Silence when no byte came for 2.5 heartbeats.
   * @param {string} path @param {AbortSignal} signal @param {Record<string, string>} [extra] headers
   */
  async *stream(path, signal, extra = {}) {
    const connection = new AbortController();
    const stop = () => connection.abort();
    signal.addEventListener('abort', stop);
    let silent = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { silent = true; connection.abort(); }, SILENCE_FACTOR * this.heartbeatSeconds * 1000);
    };
    try {
      arm();
      const response = await fetch(this.root + path,
        { signal: connection.signal, headers: this.headers(extra), credentials: 'same-origin' });
      if (response.status === 204) throw new ApiError(204, { detail: 'the stream has ended' });
      if (!response.ok || !response.body) {
        let body = null;
        try { body = await response.json(); } catch (_) { /* not JSON */ }
        throw new ApiError(response.status, body);
      }
      const beat = Number(response.headers.get(HEARTBEAT_HEADER));
      if (beat >= 0.1 && beat < 86400) this.heartbeatSeconds = beat;
      arm();
      yield* readEvents(response.body, arm);
    } catch (error) {
      if (silent && !signal.aborted) throw new Silence(`no data for ${SILENCE_FACTOR * this.heartbeatSeconds} s`);
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      connection.abort(); // a consumer that stops early closes the connection
    }
  }

  /**
   * Read a stream to its final, resuming with the last id as often as needed.
   * `onEvent` gets each event; `onReconnect(attempt)` before each new attempt;
   * returns 'final', or 'gone' for a stream the server no longer has or that
   * has nothing more (the caller reloads, docs/protocol.md#on-404), or 'stopped' when
   * `signal` aborted or `keepGoing()` turned false.  A 4xx other than 404 is
   * thrown.  Every stream of the page shares one connection (hub.js).
   * @param {string} sid
   * @param {import('./hub.js').Follower} how
   * @returns {Promise<'final' | 'gone' | 'stopped'>}
   */
  follow(sid, how) {
    return pageHub(this).follow(sid, how);
  }
}
