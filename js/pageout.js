// @ts-check
/**
 * What a page tool answers the model with, as bounded text (docs/protocol.md#agent-runs):
 * a cell's nbformat outputs (a stream's text, a result's `text/plain`, an image as
 * `[image/png 640×480]`, an error as its name, value and traceback without ANSI
 * colours), a notebook's cells, a kernel's variables.  Pure: no DOM, no JupyterLab,
 * tested with node (`pageout.test.js`).
 */

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
/** A cell's outputs are cut to this many characters for `notebook_run_cell`. */
export const RUN_CHARS = 8000;
/** Each cell's outputs are cut to this for `notebook_read`. */
export const READ_OUTPUT_CHARS = 2000;
/** A whole `notebook_read` answer is cut to this (the server cuts to `tool_result_chars` too). */
export const READ_CHARS = 100000;

/** @param {string} text */
export function stripAnsi(text) { return text.replace(ANSI, ''); }

/** @param {unknown} value an nbformat multiline string (a string or a list of lines) */
function joined(value) {
  return Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '';
}

/**
 * `text` cut to `limit` characters, saying how much was left out.
 * @param {string} text @param {number} limit
 */
export function bounded(text, limit) {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}\n… (${text.length - limit} more characters left out)`;
}

/**
 * A PNG's size from its IHDR (bytes 16–23 of the file), read from base64; null when it is not one.
 * @param {string} base64
 */
export function pngSize(base64) {
  try {
    const head = atob(base64.replace(/\s+/g, '').slice(0, 32));
    if (head.length < 24 || head.slice(1, 4) !== 'PNG') return null;
    const int = (/** @type {number} */ at) => ((head.charCodeAt(at) << 24) >>> 0) + (head.charCodeAt(at + 1) << 16)
      + (head.charCodeAt(at + 2) << 8) + head.charCodeAt(at + 3);
    return { width: int(16), height: int(20) };
  } catch (_) {
    return null;
  }
}

/**
 * An image as a line: its type and, when known (the output's metadata, else a PNG's header), its size.
 * @param {string} mime @param {unknown} data @param {any} metadata
 */
export function imageLine(mime, data, metadata) {
  const meta = (metadata && metadata[mime]) || {};
  let size = Number(meta.width) > 0 && Number(meta.height) > 0 ? { width: Number(meta.width), height: Number(meta.height) } : null;
  if (!size && mime === 'image/png') size = pngSize(joined(data));
  return size ? `[${mime} ${size.width}×${size.height}]` : `[${mime}]`;
}

/**
 * One nbformat output as text.
 * @param {any} output
 */
export function outputText(output) {
  if (!output || typeof output !== 'object') return '';
  if (output.output_type === 'stream') return stripAnsi(joined(output.text));
  if (output.output_type === 'error') return errorText(output);
  const data = output.data || {};
  const lines = [];
  for (const mime of Object.keys(data)) {
    if (mime.startsWith('image/')) lines.push(imageLine(mime, data[mime], output.metadata));
  }
  if (typeof data['text/plain'] === 'string' || Array.isArray(data['text/plain'])) {
    const plain = stripAnsi(joined(data['text/plain']));
    if (!lines.length || !plain.startsWith('<')) lines.push(plain); // not a figure's `<Figure size…>`
  } else if (!lines.length) {
    const kinds = Object.keys(data);
    if (kinds.length) lines.push(`[${kinds.join(', ')}]`);
  }
  return lines.join('\n');
}

/** An error output: `Name: value`, then its traceback without colours. @param {any} output */
export function errorText(output) {
  const head = `${output.ename || 'Error'}: ${output.evalue || ''}`.trim();
  const trace = stripAnsi((output.traceback || []).join('\n')).trim();
  return trace ? `${head}\n${trace}` : head;
}

/**
 * A cell's outputs as one bounded text (stream pieces joined as they came).
 * @param {any[]} outputs @param {number} [limit]
 */
export function outputsText(outputs, limit = RUN_CHARS) {
  const texts = outputs.map(outputText).filter((t) => t !== '');
  const text = texts.map((t, i) => (i < texts.length - 1 && !t.endsWith('\n') ? `${t}\n` : t)).join('');
  return bounded(text.replace(/\n+$/, ''), limit);
}

/**
 * `notebook_run_cell`'s answer: the outputs, or (the cell failed) an error the call ends with.
 * @param {any[]} outputs @returns {{content: string} | {error: string}}
 */
export function runAnswer(outputs) {
  const failed = outputs.find((o) => o && o.output_type === 'error');
  if (failed) {
    const before = outputsText(outputs.filter((o) => o !== failed), RUN_CHARS / 2);
    return { error: bounded(`${errorText(failed)}${before ? `\n\nOutput before the error:\n${before}` : ''}`, RUN_CHARS) };
  }
  const text = outputsText(outputs);
  return { content: text || '(no output)' };
}

/**
 * @typedef {{id: string, type: string, source: string, execution_count?: number | null, outputs?: any[]}} CellJSON
 */

/**
 * `notebook_read`'s answer: each cell (or those asked for, in the notebook's order) as JSON,
 * its outputs as bounded text.
 * @param {CellJSON[]} cells @param {string[]} [only]
 */
export function readAnswer(cells, only) {
  const wanted = only && only.length ? new Set(only) : null;
  const picked = wanted ? cells.filter((c) => wanted.has(c.id)) : cells;
  const missing = wanted ? [...wanted].filter((id) => !cells.some((c) => c.id === id)) : [];
  const listed = picked.map((cell) => {
    /** @type {Record<string, any>} */
    const entry = { id: cell.id, type: cell.type, source: cell.source };
    if (cell.type === 'code') {
      entry.execution_count = cell.execution_count ?? null;
      entry.outputs = outputsText(cell.outputs || [], READ_OUTPUT_CHARS);
    }
    return entry;
  });
  const answer = { cells: listed, ...(missing.length ? { missing } : {}) };
  return bounded(JSON.stringify(answer, null, 1), READ_CHARS);
}

/** Variables shown at most, and each preview's length. */
export const MAX_VARIABLES = 100;
export const PREVIEW_CHARS = 200;

/**
 * The Python expression `kernel_variables` runs silently: it prints one JSON line and leaves
 * no name behind (a lambda, no assignment).  `names`: only these (empty: every public one).
 * @param {string[]} names
 */
export function variablesSnippet(names) {
  const wanted = JSON.stringify(names.map(String));
  return `(lambda __j, __w: print(__j.dumps([[k, type(v).__name__, str(getattr(v, 'shape', '')), repr(v)[:${PREVIEW_CHARS}]]
  for k, v in list(globals().items())
  if ((k in __w) if __w else (not k.startswith('_') and k not in ('In', 'Out', 'exit', 'quit', 'get_ipython')
    and type(v).__name__ not in ('module', 'function', 'type', 'builtin_function_or_method')))][:${MAX_VARIABLES}])))(__import__('json'), ${wanted})`;
}

/**
 * The snippet's printed line as the tool's answer: one line a variable (`name: type shape = preview`).
 * @param {string} printed
 */
export function variablesAnswer(printed) {
  const line = printed.trim().split('\n').pop() || '[]';
  /** @type {[string, string, string, string][]} */
  const rows = JSON.parse(line);
  if (!rows.length) return '(no variables)';
  return rows.map(([name, type, shape, preview]) => `${name}: ${type}${shape ? ` ${shape}` : ''} = ${preview}`).join('\n');
}
