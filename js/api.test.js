// @ts-check
// The page's chats share one `GET models` (api.js): `node --test js/`.
import assert from 'node:assert/strict';
import test from 'node:test';

import { Api } from './api.js';

/** `fetch` answering `GET models` when the test says so; counts the requests. */
function scriptedFetch() {
  const requests = /** @type {{url: string, answer: (body: any, status?: number) => void}[]} */ ([]);
  const fetch = (/** @type {string} */ url) => new Promise((resolve) => {
    requests.push({
      url,
      answer: (body, status = 200) => resolve(new Response(JSON.stringify(body), { status })),
    });
  });
  return { requests, fetch };
}

/** @typedef {ReturnType<typeof scriptedFetch>} Scripted */
/** @param {(scripted: Scripted) => Promise<void>} body */
async function withFetch(body) {
  const saved = { fetch: globalThis.fetch, document: /** @type {any} */ (globalThis).document };
  const scripted = scriptedFetch();
  globalThis.fetch = /** @type {any} */ (scripted.fetch);
  /** @type {any} */ (globalThis).document = { cookie: '' };
  try {
    await body(scripted);
  } finally {
    globalThis.fetch = saved.fetch;
    /** @type {any} */ (globalThis).document = saved.document;
  }
}

test('ten chats opening together make one models request, and each gets the answer', () => withFetch(async (scripted) => {
  const answers = Array.from({ length: 10 }, () => new Api('/one/', 't').models(new AbortController().signal));
  assert.equal(scripted.requests.length, 1);
  scripted.requests[0].answer({ models: [{ id: 'demo' }], default: 'demo' });
  for (const answer of answers) assert.deepEqual((await answer).models, [{ id: 'demo' }]);
}));

test('a chat closed while it waits is told at once; the others still get the answer', () => withFetch(async (scripted) => {
  const closed = new AbortController();
  const gone = new Api('/two/', 't').models(closed.signal);
  const staying = new Api('/two/', 't').models(new AbortController().signal);
  closed.abort();
  await assert.rejects(gone);
  scripted.requests[0].answer({ models: [], default: 'x' });
  assert.equal((await staying).default, 'x');
}));

test('a failed answer is not kept: the next chat asks again', () => withFetch(async (scripted) => {
  const first = new Api('/three/', 't').models();
  scripted.requests[0].answer({ detail: 'down' }, 503);
  await assert.rejects(first);
  const second = new Api('/three/', 't').models();
  assert.equal(scripted.requests.length, 2);
  scripted.requests[1].answer({ models: [], default: 'y' });
  assert.equal((await second).default, 'y');
}));

test('another server (another root) has its own answer', () => withFetch(async (scripted) => {
  new Api('/four/', 't').models().catch(() => {});
  new Api('/five/', 't').models().catch(() => {});
  assert.deepEqual(scripted.requests.map((r) => r.url), ['/four/resumechat/api/models', '/five/resumechat/api/models']);
  scripted.requests.forEach((r) => r.answer({ models: [] }));
}));
