// @ts-check
/**
 * The context meter (docs/protocol.md#show-trust): how much of the model's context window
 * the conversation fills.  Pure: no DOM, no I/O (`node --test js/`).
 *
 * The server fits each request into a token budget and records the `window`
 * on the reply (`{budget, tokens, omitted}`); the model's own count, when it
 * reported one, is `usage.input_tokens`.  The next request will send about
 * what the latest one sent plus that reply, so the meter shows that sum.
 * Before any reply it estimates the conversation as the server does
 * (UTF-8 bytes / 4 + 4 per message).
 */

/** @typedef {import('./state.js').Message} Message */
/** @typedef {{used: number, budget: number, omitted: number, estimated: boolean}} Meter */

const PER_MESSAGE = 4;

/** The server's documented estimate. @param {string} text */
export function estimate(text) {
  return Math.ceil(new TextEncoder().encode(text).length / 4);
}

/** @param {Message} message */
function cost(message) {
  const attached = (message.context || []).reduce((sum, item) => sum + estimate(item.content) + 12, 0);
  return estimate(message.content) + attached + PER_MESSAGE;
}

/**
 * @param {Message[]} messages @param {number | null | undefined} budget the model's, from `GET models`
 * @param {string} [model] the model the next message goes to: a reply by another one
 *   says what was sent then, but its budget is not this one's
 * @returns {Meter | null}
 */
export function contextMeter(messages, budget, model) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const reply = messages[i];
    if (reply.role !== 'assistant' || !reply.window) continue;
    const limit = model && reply.model && reply.model !== model && budget ? budget : reply.window.budget;
    const reported = reply.usage && reply.usage.input_tokens > 0;
    const sent = reported && reply.usage ? reply.usage.input_tokens : reply.window.tokens;
    const answer = reply.usage && reply.usage.output_tokens > 0 ? reply.usage.output_tokens + PER_MESSAGE : cost(reply);
    const later = messages.slice(i + 1).reduce((sum, m) => sum + cost(m), 0);
    return { used: sent + answer + later, budget: limit, omitted: reply.window.omitted, estimated: !reported };
  }
  if (!budget) return null;
  return { used: messages.reduce((sum, m) => sum + cost(m), 0), budget, omitted: 0, estimated: true };
}

/** @param {number} n */
function short(n) {
  if (n < 1000) return String(n);
  return `${(n / 1000).toFixed(n < 10000 ? 1 : 0)}k`;
}

/** What the meter says. @param {Meter} meter */
export function meterText(meter) {
  const about = meter.estimated ? '~' : '';
  const left = meter.omitted ? ` · ${meter.omitted} earlier message${meter.omitted === 1 ? '' : 's'} left out` : '';
  return `Context ${about}${short(meter.used)} / ${short(meter.budget)} tokens${left}`;
}
