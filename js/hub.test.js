// @ts-check
// The page's one connection (hub.js), driven by a scripted server: `node --test js/`.
import assert from 'node:assert/strict';
import test from 'node:test';

import { DEBOUNCE_MS, StreamHub, pageHub } from './hub.js';

/** A server whose event-stream responses the test writes by hand. */
class Server {
  constructor() {
    this.root = '/test/';
    /** @type {Connection[]} */
    this.connections = [];
    /** @type {((c: Connection) => void)[]} */
    this.waiters = [];
  }

  /** @param {string} path @param {AbortSignal} signal */
  stream(path, signal) {
    const connection = new Connection(path, signal);
    this.connections.push(connection);
    this.waiters.splice(0).forEach((wake) => wake(connection));
    return connection.events();
  }

  /** The next connection opened (or the one just opened). @param {number} index */
  async connection(index) {
    while (this.connections.length <= index) await new Promise((wake) => this.waiters.push(wake));
    return this.connections[index];
  }

  open() { return this.connections.filter((c) => !c.closed); }
}

class Connection {
  /** @param {string} path @param {AbortSignal} signal */
  constructor(path, signal) {
    this.query = decodeURIComponent(path.split('streams=')[1]).split(',');
    this.signal = signal;
    /** @type {any[]} */
    this.queue = [];
    this.closed = false;
    /** @type {(() => void) | null} */
    this.wake = null;
    signal.addEventListener('abort', () => this.put({ abort: true }));
  }

  /** @param {any} item */
  put(item) { this.queue.push(item); this.wake?.(); }
  /** @param {string} sid @param {number} id @param {string} event @param {any} data */
  send(sid, id, event, data) { this.put({ sse: { id: `${sid}:${id}`, event, data } }); }
  /** @param {string} sid @param {string} [reason] */
  gone(sid, reason = 'unknown') { this.put({ sse: { id: null, event: 'gone', data: { stream_id: sid, reason } } }); }
  end() { this.put({ end: true }); }
  /** @param {any} error */
  fail(error) { this.put({ error }); }

  async *events() {
    try {
      for (;;) {
        while (!this.queue.length) await new Promise((wake) => { this.wake = () => wake(undefined); });
        const item = this.queue.shift();
        if (item.abort) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
        if (item.error) throw item.error;
        if (item.end) return;
        yield item.sse;
      }
    } finally {
      this.closed = true;
    }
  }
}

/** A follower as ChatSession makes one: its last id is what it has applied. */
function follower(signal = new AbortController().signal) {
  const got = /** @type {any[]} */ ([]);
  const reconnects = /** @type {number[]} */ ([]);
  let lastId = /** @type {number | null} */ (null);
  return {
    got, reconnects,
    how: {
      lastId: () => lastId,
      onEvent: (/** @type {any} */ sse) => { got.push(sse); lastId = sse.id; },
      onReconnect: (/** @type {number} */ attempt) => { reconnects.push(attempt); },
      keepGoing: () => true,
      signal,
    },
    /** @param {number} id */
    at(id) { lastId = id; return this; },
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const settle = () => new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 3));

test('eight views that start together open one connection, and each gets its own stream', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const views = Array.from({ length: 8 }, () => follower());
  const ends = views.map((view, i) => hub.follow(`s${i}`, view.how));
  const connection = await server.connection(0);
  assert.deepEqual(connection.query, views.map((_, i) => `s${i}`)); // no last id: snapshots
  views.forEach((_, i) => connection.send(`s${i}`, 0, 'snapshot', { content: '' }));
  views.forEach((_, i) => connection.send(`s${i}`, 1, 'delta', { text: `t${i}` }));
  views.forEach((_, i) => connection.send(`s${i}`, 2, 'final', { message: { content: `t${i}` } }));
  connection.end();
  assert.deepEqual(await Promise.all(ends), Array(8).fill('final'));
  views.forEach((view, i) => assert.deepEqual(view.got.map((e) => [e.id, e.event]), [[0, 'snapshot'], [1, 'delta'], [2, 'final']], `s${i}`));
  assert.equal(views[3].got[1].data.text, 't3');
  await settle();
  assert.equal(server.connections.length, 1);
  assert.equal(hub.opened, 1);
});

test('a stream joining later reopens the connection once, every stream from its last id', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const a = follower().at(4);
  const endA = hub.follow('a', a.how);
  const first = await server.connection(0);
  assert.deepEqual(first.query, ['a:4']);
  first.send('a', 5, 'delta', { text: 'x' });
  await tick();
  const b = follower();
  const c = follower().at(2);
  const endB = hub.follow('b', b.how);
  const endC = hub.follow('c', c.how);
  const second = await server.connection(1);
  assert.ok(first.closed);
  assert.deepEqual(second.query, ['a:5', 'b', 'c:2']);
  second.send('a', 6, 'final', { message: {} });
  second.gone('b');
  second.gone('c', 'ended');
  second.end();
  assert.deepEqual(await Promise.all([endA, endB, endC]), ['final', 'gone', 'gone']);
  assert.deepEqual(a.got.map((e) => e.id), [5, 6]);
  await settle();
  assert.equal(server.connections.length, 2);
});

test('a network error resumes every stream from its last id, with backoff, telling each view', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const a = follower();
  const b = follower().at(7);
  const ends = [hub.follow('a', a.how), hub.follow('b', b.how)];
  const first = await server.connection(0);
  first.send('a', 3, 'snapshot', { content: 'abc' });
  first.send('b', 8, 'delta', { text: 'y' });
  first.fail(new TypeError('network error'));
  const second = await server.connection(1);
  assert.deepEqual(second.query, ['a:3', 'b:8']);
  assert.deepEqual([a.reconnects, b.reconnects], [[1], [1]]);
  second.send('a', 4, 'final', { message: {} });
  second.send('b', 9, 'final', { message: {} });
  second.end();
  assert.deepEqual(await Promise.all(ends), ['final', 'final']);
});

test('a response that ends before its streams do is resumed like a network error', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const a = follower().at(1);
  const end = hub.follow('a', a.how);
  (await server.connection(0)).end(); // a proxy or a stopping server cut it
  const second = await server.connection(1);
  assert.deepEqual(second.query, ['a:1']);
  assert.deepEqual(a.reconnects, [1]);
  second.send('a', 2, 'final', { message: {} });
  assert.equal(await end, 'final');
});

test('two views of one stream: each gets each event once, from where it is', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const ahead = follower().at(5);
  const behind = follower().at(3);
  const ends = [hub.follow('s', ahead.how), hub.follow('s', behind.how)];
  const connection = await server.connection(0);
  assert.deepEqual(connection.query, ['s:3']); // the older position; the view ahead skips what it has
  for (let id = 4; id <= 6; id++) connection.send('s', id, 'delta', { text: String(id) });
  connection.send('s', 7, 'final', { message: {} });
  assert.deepEqual(await Promise.all(ends), ['final', 'final']);
  assert.deepEqual(ahead.got.map((e) => e.id), [6, 7]);
  assert.deepEqual(behind.got.map((e) => e.id), [4, 5, 6, 7]);
});

test('a refused connection (4xx) is thrown to its views; a view that leaves closes an idle connection', async () => {
  const server = new Server();
  const hub = new StreamHub(server);
  const end = hub.follow('a', follower().how);
  (await server.connection(0)).fail(Object.assign(new Error('forbidden'), { status: 403 }));
  await assert.rejects(end, /forbidden/);

  const leaving = new AbortController();
  const left = hub.follow('b', follower(leaving.signal).how);
  const connection = await server.connection(1);
  leaving.abort();
  assert.equal(await left, 'stopped');
  await settle();
  assert.ok(connection.closed);
  assert.equal(server.connections.length, 2);
});

test('one hub per page and server, shared by every bundle through window', () => {
  const source = { root: '/page/', stream: new Server().stream };
  assert.equal(pageHub(source), pageHub({ ...source }));
  assert.notEqual(pageHub(source), pageHub({ ...source, root: '/other/' }));
});
