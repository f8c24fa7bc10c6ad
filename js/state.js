// @ts-check
/**
 * The chat's state machine: pure functions, no DOM, no I/O (`node --test js/`).
 *
 * `phase` is a discriminated union; each kind holds only what it needs:
 *
 *   loading ──loaded──▶ idle ──send──▶ sending ──202──▶ streaming ──final──▶ idle
 *      ▲                  ▲               │ refused (409/413/4xx/503/network)  │
 *      └──── gone (404) ──┴───────────────┘◀──────────────────────────────────┘
 *   streaming ──network error / silence──▶ streaming{reconnecting > 0} ──connected──▶ streaming
 *   loading ──load failed──▶ failed ──retry──▶ loading
 *
 * Whatever a send is answered with, the phase leaves `sending` (docs/protocol.md#no-stuck-state);
 * a refused draft stays in the box because only a 202 clears it (the view's
 * business), and the refusal is a `notice`, not a phase.
 *
 * @typedef {{input_tokens: number, output_tokens: number}} Usage
 * @typedef {{id: string, role: 'user' | 'assistant', content: string, status: string,
 *            reasoning?: string, model?: string | null, error?: {type: string, detail: string} | null,
 *            created_at?: string, updated_at?: string, usage?: Usage | null,
 *            context?: {kind: string, name: string, content: string}[],
 *            window?: {budget: number, tokens: number, omitted: number} | null, parts?: Part[]}} Message
 * @typedef {{id: string, name: string, arguments: any, runs_on: 'server' | 'page', status: string,
 *            result: {content: any, truncated: boolean} | null, error: {type: string, detail: string} | null,
 *            decision: {decision: 'approve' | 'deny', note: string | null, at: string} | null,
 *            claimed_by: string | null, created_at: string, updated_at: string}} ToolCall
 * @typedef {{type: 'text', text: string} | {type: 'reasoning', text: string}
 *   | {type: 'tool', call: ToolCall, argumentsText?: string}} Part
 *   (`argumentsText`: a call's arguments as they stream, raw, until its next `tool` event)
 * @typedef {{messageId: string, content: string, reasoning: string, epoch: number, parts: Part[] | null}} Partial
 *   (`epoch` changes when the text is replaced, not extended: a snapshot; `parts` is null while the
 *   server sends none, an older server: the reply is then its `content`, drawn as before)
 * @typedef {{kind: 'loading'}
 *   | {kind: 'idle'}
 *   | {kind: 'sending', what: 'message' | 'regenerate' | 'continue'}
 *   | {kind: 'streaming', streamId: string, lastId: number | null, partial: Partial, reconnecting: number}
 *   | {kind: 'failed', detail: string}} Phase
 * @typedef {{phase: Phase, messages: Message[], notice: string | null, request: number,
 *            finished: Message | null}} State
 * @typedef {{id: number, event: string, data: any}} SSE
 */

/** @returns {State} */
export function initial() {
  return { phase: { kind: 'loading' }, messages: [], notice: null, request: 0, finished: null };
}

/**
 * Apply one event, returning a new state (never mutating `state`).
 * @param {State} state
 * @param {any} event
 * @returns {State}
 */
export function reduce(state, event) {
  const phase = state.phase;
  switch (event.type) {
    case 'load': // a new status+messages request; older answers become stale (rule 5)
      return { ...state, request: event.request, phase: phase.kind === 'streaming' ? phase : { kind: 'loading' } };
    case 'loaded':
      return event.request === state.request ? loaded(state, event.messages, event.status) : state;
    case 'load-failed':
      return event.request === state.request ? { ...state, phase: { kind: 'failed', detail: event.detail } } : state;
    case 'sending':
      if (phase.kind !== 'idle') return state;
      return { ...state, phase: { kind: 'sending', what: event.what }, notice: null };
    case 'sent': // status answers to requests made before the send are stale now
      return { ...sent(state, event.result), request: Math.max(state.request, event.request || 0) };
    case 'refused': // any answer but 202 to a send: back to a sendable state (rule 9)
      return { ...state, notice: event.detail, phase: phase.kind === 'sending' ? { kind: 'idle' } : phase };
    case 'sse':
      return phase.kind === 'streaming' && phase.streamId === event.streamId ? applyEvent(state, phase, event.event) : state;
    case 'reconnecting':
      return phase.kind === 'streaming' && phase.streamId === event.streamId
        ? { ...state, phase: { ...phase, reconnecting: phase.reconnecting + 1 } } : state;
    case 'connected':
      return phase.kind === 'streaming' && phase.streamId === event.streamId && phase.reconnecting
        ? { ...state, phase: { ...phase, reconnecting: 0 } } : state;
    case 'ended': // the committed reply, from an abort's answer: as its final would
      if (phase.kind !== 'streaming' || phase.partial.messageId !== event.message.id) return state;
      return { ...state, messages: [...state.messages.filter((m) => m.id !== event.message.id), event.message],
        phase: { kind: 'idle' }, finished: event.message };
    case 'gone': // 404: forget the partial and any cached status, reload, no banner (rule 3)
      return { ...state, phase: { kind: 'loading' }, notice: null };
    case 'notice':
      return { ...state, notice: event.detail };
    case 'dismiss':
      return { ...state, notice: null };
    default:
      return state;
  }
}

/**
 * @param {State} state @param {Message[]} messages @param {any} status
 * @returns {State}
 */
function loaded(state, messages, status) {
  const active = status && status.active ? status : null;
  const phase = state.phase;
  if (!active && phase.kind === 'streaming') {
    const committed = messages.find((m) => m.id === phase.partial.messageId);
    // An answer that does not hold our live reply committed predates our send (or
    // regenerate): keep reading; the stream itself says when it ends.
    if (!committed || committed.status === 'streaming') return state;
  }
  if (!active) return { ...state, messages, phase: { kind: 'idle' } };
  const live = messages.find((m) => m.id === active.message_id);
  const others = messages.filter((m) => m.id !== active.message_id);
  if (phase.kind === 'streaming' && phase.streamId === active.stream_id) {
    return { ...state, messages: others }; // already attached: keep what was read
  }
  return {
    ...state, messages: others,
    phase: { kind: 'streaming', streamId: active.stream_id, lastId: null, reconnecting: 0,
      partial: { messageId: active.message_id, content: live ? live.content : '', reasoning: live?.reasoning || '',
        epoch: 0, parts: partsOf(live) } },
  };
}

/**
 * A 202: the reply (new, regenerated or continued) streams from `result.stream_id`.
 * @param {State} state @param {any} result
 * @returns {State}
 */
function sent(state, result) {
  const reply = result.assistant_message;
  const user = result.user_message;
  const messages = state.messages.filter((m) => m.id !== reply.id && m.id !== user.id);
  const at = state.messages.findIndex((m) => m.id === user.id);
  if (at >= 0) messages.splice(Math.min(at, messages.length), 0, user); else messages.push(user);
  return {
    ...state, messages, notice: null,
    phase: { kind: 'streaming', streamId: result.stream_id, lastId: null, reconnecting: 0,
      partial: { messageId: reply.id, content: reply.content || '', reasoning: reply.reasoning || '', epoch: 0,
        parts: partsOf(reply) } },
  };
}

/**
 * One SSE event (rule 2: dedupe by id; rule 4: the final replaces the partial).
 * @param {State} state
 * @param {Extract<Phase, {kind: 'streaming'}>} phase
 * @param {SSE} sse
 * @returns {State}
 */
function applyEvent(state, phase, sse) {
  if (sse.event !== 'snapshot' && phase.lastId !== null && sse.id <= phase.lastId) return state;
  const partial = phase.partial;
  if (sse.event === 'snapshot') {
    return { ...state, phase: { ...phase, lastId: sse.id, reconnecting: 0, partial: {
      messageId: sse.data.message_id || partial.messageId, content: sse.data.content || '',
      reasoning: sse.data.reasoning || '', epoch: partial.epoch + 1, parts: partsOf(sse.data) } } };
  }
  if (sse.event === 'delta') {
    const { text = '', reasoning = '', tool_arguments: piece } = sse.data;
    let parts = piece ? appendArguments(partial.parts || seedParts(partial), piece) : partial.parts;
    if (parts) parts = appendPiece(appendPiece(parts, 'reasoning', reasoning), 'text', text);
    return { ...state, phase: { ...phase, lastId: sse.id, reconnecting: 0, partial: { ...partial,
      content: partial.content + text, reasoning: partial.reasoning + reasoning, parts } } };
  }
  if (sse.event === 'tool') {
    return { ...state, phase: { ...phase, lastId: sse.id, reconnecting: 0, partial: { ...partial,
      parts: upsertCall(partial.parts || seedParts(partial), sse.data.call) } } };
  }
  if (sse.event === 'final') {
    const message = sse.data.message;
    return { ...state, messages: [...state.messages.filter((m) => m.id !== message.id), message],
      phase: { kind: 'idle' }, finished: message };
  }
  return state;
}

/**
 * A message's or a snapshot's parts; null from a server that sends none, or none for a reply that has
 * text (one written before parts existed): that reply is its content.
 * @param {any} holder @returns {Part[] | null}
 */
export function partsOf(holder) {
  const parts = holder && Array.isArray(holder.parts) ? holder.parts : null;
  return parts && (parts.length || !holder.content) ? parts : null;
}

/**
 * The parts a reply read so far stands for, when a server that sent none starts sending calls.
 * @param {Partial} partial @returns {Part[]}
 */
function seedParts(partial) {
  /** @type {Part[]} */
  const parts = [];
  if (partial.reasoning) parts.push({ type: 'reasoning', text: partial.reasoning });
  if (partial.content) parts.push({ type: 'text', text: partial.content });
  return parts;
}

/**
 * Text or reasoning that streamed: it extends the last part when that is of its kind, else it starts one.
 * @param {Part[]} parts @param {'text' | 'reasoning'} type @param {string} text @returns {Part[]}
 */
export function appendPiece(parts, type, text) {
  if (!text) return parts;
  const last = parts[parts.length - 1];
  if (last && last.type === type) return [...parts.slice(0, -1), { type, text: last.text + text }];
  return [...parts, { type, text }];
}

/**
 * A `tool` event: the whole call replaces its part (and the raw arguments that streamed), or is added.
 * @param {Part[]} parts @param {ToolCall} call @returns {Part[]}
 */
export function upsertCall(parts, call) {
  const at = parts.findIndex((p) => p.type === 'tool' && p.call.id === call.id);
  /** @type {Part} */
  const part = { type: 'tool', call };
  return at < 0 ? [...parts, part] : parts.map((p, i) => (i === at ? part : p));
}

/**
 * A call's arguments as they form: appended raw to its part (one not announced yet gets a pending part).
 * @param {Part[]} parts @param {{call_id: string, text: string}} piece @returns {Part[]}
 */
export function appendArguments(parts, piece) {
  const at = parts.findIndex((p) => p.type === 'tool' && p.call.id === piece.call_id);
  if (at < 0) return [...parts, { type: 'tool', call: pendingCall(piece.call_id), argumentsText: piece.text || '' }];
  return parts.map((p, i) => (i === at && p.type === 'tool'
    ? { ...p, argumentsText: (p.argumentsText || '') + (piece.text || '') } : p));
}

/** A call known only by the arguments streaming for it. @param {string} id @returns {ToolCall} */
function pendingCall(id) {
  return { id, name: '', arguments: null, runs_on: 'server', status: 'proposed', result: null, error: null,
    decision: null, claimed_by: null, created_at: '', updated_at: '' };
}

/** The latest message, if it is a reply. @param {State} state */
export function latestReply(state) {
  const last = state.messages[state.messages.length - 1];
  return last && last.role === 'assistant' ? last : null;
}

/**
 * What a committed reply offers (docs/protocol.md#no-stuck-state): only the latest reply, only when
 * nothing streams or sends.  Retry regenerates a failed reply; Continue extends
 * an interrupted, stopped or failed one that has text.
 * @param {State} state @param {Message} message
 * @returns {('retry' | 'continue' | 'regenerate')[]}
 */
export function replyActions(state, message) {
  if (state.phase.kind !== 'idle' || latestReply(state) !== message) return [];
  if (message.status === 'error') return message.content ? ['retry', 'continue'] : ['retry'];
  if (message.status === 'interrupted' || message.status === 'aborted') return ['continue', 'regenerate'];
  return ['regenerate'];
}

/**
 * The composer: the one action button's behaviour and what it may do now.
 * @param {State} state
 * @returns {{action: 'send' | 'stop', enabled: boolean, busy: boolean}}
 */
export function composer(state) {
  const kind = state.phase.kind;
  if (kind === 'streaming') return { action: 'stop', enabled: true, busy: true };
  return { action: 'send', enabled: kind === 'idle', busy: kind === 'sending' };
}

/**
 * Delay before reconnect attempt `attempt` (1, 2, …): exponential, jittered, bounded.
 * @param {number} attempt
 * @param {() => number} random
 */
export function backoff(attempt, random = Math.random) {
  const ceiling = Math.min(10000, 250 * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * ceiling / 2;
}

/**
 * The status line's words (empty when there is nothing to say).
 * @param {State} state
 */
export function statusText(state) {
  const phase = state.phase;
  if (phase.kind === 'streaming') return phase.reconnecting ? 'Reconnecting…' : 'Streaming…';
  if (phase.kind === 'sending') return 'Sending…';
  if (phase.kind === 'loading') return 'Loading…';
  if (phase.kind === 'failed') return `Could not load the chat: ${phase.detail}`;
  return '';
}

/**
 * A reply's one-line description: model, time, tokens when known (docs/protocol.md#show-trust).
 * @param {Message} message @param {(iso: string) => string} [time]
 */
export function replyMeta(message, time = (iso) => iso.slice(11, 16)) {
  const parts = [];
  if (message.model) parts.push(message.model);
  if (message.created_at) parts.push(time(message.created_at));
  if (message.usage) parts.push(`${message.usage.input_tokens} in · ${message.usage.output_tokens} out tokens`);
  return parts.join(' · ');
}
