// @ts-check
/**
 * The panel's state machine: pure functions, no DOM, no I/O (unit-tested with node --test).
 *
 * View state is one discriminated union on `phase`:
 *   idle | loading | streaming | reconnecting | error
 * plus the committed `messages` and, while a reply streams, its `partial`.
 *
 * @typedef {{id: string, role: string, content: string, status: string,
 *            reasoning?: string, error?: {type: string, detail: string} | null}} Message
 * @typedef {{message_id: string, content: string, reasoning: string}} Partial
 * @typedef {{
 *   phase: 'idle' | 'loading' | 'streaming' | 'reconnecting' | 'error',
 *   messages: Message[], partial: Partial | null, streamId: string | null,
 *   lastId: number | null, sending: boolean, error: string | null,
 *   request: number, attempt: number
 * }} State
 */

/** @returns {State} */
export function initial() {
  return {
    phase: 'loading', messages: [], partial: null, streamId: null, lastId: null,
    sending: false, error: null, request: 0, attempt: 0,
  };
}

/**
 * Apply one event to the state, returning a new state.
 * @param {State} state
 * @param {any} event
 * @returns {State}
 */
export function reduce(state, event) {
  switch (event.type) {
    case 'load': // a new status+messages request starts; older answers become stale
      return { ...state, phase: 'loading', request: event.request };
    case 'loaded': {
      if (event.request !== state.request) return state; // superseded (rule 5)
      const active = event.status.active ? event.status : null;
      const messages = event.messages.filter((/** @type {Message} */ m) => !active || m.id !== active.message_id);
      const live = active ? event.messages.find((/** @type {Message} */ m) => m.id === active.message_id) : null;
      return {
        ...state, messages, error: null,
        phase: active ? 'streaming' : 'idle',
        streamId: active ? active.stream_id : null,
        lastId: null,
        partial: active ? { message_id: active.message_id, content: live ? live.content : '', reasoning: '' } : null,
      };
    }
    case 'sent': // a 202: the reply streams from result.stream_id
      return {
        ...state, sending: false, phase: 'streaming', streamId: event.result.stream_id, lastId: null,
        messages: [...state.messages.filter((m) => m.id !== event.result.user_message.id), event.result.user_message],
        partial: { message_id: event.result.assistant_message.id, content: '', reasoning: '' },
        error: null,
      };
    case 'sending':
      return { ...state, sending: true, error: null };
    case 'sse': return applyEvent(state, event.event);
    case 'network-error':
      if (state.phase !== 'streaming' && state.phase !== 'reconnecting') return state;
      return { ...state, phase: 'reconnecting', attempt: state.attempt + 1 };
    case 'connected':
      return state.phase === 'reconnecting' ? { ...state, phase: 'streaming', attempt: 0 } : state;
    case 'gone': // 404: reload the messages, forget partial and cached status; no banner (rule 3)
      return { ...state, phase: 'loading', partial: null, streamId: null, lastId: null, sending: false,
               error: null };
    case 'failed':
      return { ...state, phase: 'error', sending: false, error: event.detail };
    case 'dismiss':
      return { ...state, phase: state.streamId ? 'streaming' : 'idle', error: null };
    default:
      return state;
  }
}

/**
 * One SSE event (rule 2: dedupe by id; rule 4: the final replaces the partial).
 * @param {State} state
 * @param {{id: number, event: string, data: any}} sse
 * @returns {State}
 */
function applyEvent(state, sse) {
  if (sse.event === 'delta' && state.lastId !== null && sse.id <= state.lastId) return state;
  const partial = state.partial || { message_id: '', content: '', reasoning: '' };
  if (sse.event === 'snapshot') {
    return { ...state, lastId: sse.id, partial: { message_id: sse.data.message_id,
      content: sse.data.content, reasoning: sse.data.reasoning || '' } };
  }
  if (sse.event === 'delta') {
    return { ...state, lastId: sse.id, partial: { ...partial,
      content: partial.content + (sse.data.text || ''), reasoning: partial.reasoning + (sse.data.reasoning || '') } };
  }
  if (sse.event === 'final') {
    const message = sse.data.message;
    const messages = [...state.messages.filter((m) => m.id !== message.id), message];
    return { ...state, lastId: sse.id, partial: null, streamId: null, phase: 'idle', messages,
             attempt: 0 };
  }
  return state;
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
 * The status line's words for a state (empty when there is nothing to say).
 * @param {State} state
 */
export function statusText(state) {
  if (state.phase === 'reconnecting') return 'Reconnecting…';
  if (state.phase === 'streaming') return 'Streaming…';
  if (state.phase === 'loading') return 'Loading…';
  if (state.phase === 'error') return `Error: ${state.error}`;
  const last = state.messages[state.messages.length - 1];
  if (last && last.role === 'assistant' && last.status === 'interrupted') return 'The reply was interrupted.';
  if (last && last.role === 'assistant' && last.status === 'error') {
    return `The model failed: ${last.error ? last.error.detail : 'unknown error'}`;
  }
  if (last && last.role === 'assistant' && last.status === 'aborted') return 'Stopped.';
  return '';
}
