// @ts-check
/** The server's REST + SSE API from the browser: the page's base URL, cookie + _xsrf auth. */
import { readEvents } from './sse.js';

export class ApiError extends Error {
  /** @param {number} status @param {any} body */
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

export class Api {
  /** @param {string} baseUrl @param {string} token */
  constructor(baseUrl, token) {
    this.root = `${baseUrl.replace(/\/?$/, '/')}resumechat/api/`;
    this.token = token;
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

  /** @param {string} method @param {string} path @param {any} [body] @param {AbortSignal} [signal] */
  async call(method, path, body, signal) {
    const response = await fetch(this.root + path, {
      method, signal, credentials: 'same-origin',
      headers: this.headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  /** @param {{key?: string, title?: string}} body @param {AbortSignal} signal */
  conversation(body, signal) { return this.call('POST', 'conversations', body, signal); }
  /** @param {string} cid @param {AbortSignal} signal */
  messages(cid, signal) { return this.call('GET', `conversations/${cid}/messages`, undefined, signal); }
  /** @param {string} cid @param {AbortSignal} signal */
  status(cid, signal) { return this.call('GET', `conversations/${cid}/stream`, undefined, signal); }
  /** @param {string} cid @param {any} body @param {AbortSignal} signal */
  send(cid, body, signal) { return this.call('POST', `conversations/${cid}/messages`, body, signal); }
  /** @param {string} sid @param {AbortSignal} signal */
  abort(sid, signal) { return this.call('POST', `streams/${sid}/abort`, {}, signal); }
  /** @param {AbortSignal} signal */
  models(signal) { return this.call('GET', 'models', undefined, signal); }

  /**
   * The events of a stream after `lastId`; throws ApiError(404) when it is gone.
   * @param {string} sid @param {number | null} lastId @param {AbortSignal} signal
   */
  async *events(sid, lastId, signal) {
    const headers = this.headers(lastId === null ? {} : { 'Last-Event-ID': String(lastId) });
    const response = await fetch(`${this.root}streams/${sid}/events`, { signal, headers, credentials: 'same-origin' });
    if (!response.ok || !response.body) {
      let body = null;
      try { body = await response.json(); } catch (_) { /* not JSON */ }
      throw new ApiError(response.status, body);
    }
    yield* readEvents(response.body);
  }
}
