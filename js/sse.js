// @ts-check
/** Server-sent events over fetch: pure line parsing plus a reader of a Response body. */

/**
 * Split a text buffer into complete SSE blocks; returns [events, rest].  An id
 * of digits is a number (one stream's sequence); any other id is kept as
 * text (`<sid>:<seq>` on the multiplexed endpoint), and a block with data but
 * no id (its `gone`) has the id null.
 * @param {string} buffer
 * @returns {[{id: any, event: string, data: any}[], string]}
 */
export function parseBlocks(buffer) {
  const normalised = buffer.replace(/\r\n?/g, '\n');
  const blocks = normalised.split('\n\n');
  const rest = blocks.pop() || '';
  const events = [];
  for (const block of blocks) {
    /** @type {string | null} */
    let id = null; let event = 'message'; const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) continue;
    events.push({ id: id !== null && /^\d+$/.test(id) ? Number(id) : id, event, data: JSON.parse(data.join('\n')) });
  }
  return [events, rest];
}

/**
 * Yield the events of an SSE response body; `onChunk` is told of every chunk
 * (keepalive comments too), so a reader can time silence.
 * @param {ReadableStream<Uint8Array>} body
 * @param {() => void} [onChunk]
 */
export async function* readEvents(body, onChunk) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (onChunk) onChunk();
      buffer += decoder.decode(value, { stream: true });
      const [events, rest] = parseBlocks(buffer);
      buffer = rest;
      yield* events;
    }
  } finally {
    reader.releaseLock();
  }
}
