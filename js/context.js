// @ts-check
/**
 * What a message can carry (docs/protocol.md#context `Context`), seen from the view: the
 * candidates an `@` mention completes to, and their text at send time.
 *
 * - cells and their errors come from the notebook around the view
 *   (notebook.js), read when the message is sent, so an edited cell is sent
 *   as it is now;
 * - variables come from the kernel (the panel's Python side renders them:
 *   a DataFrame as schema + first rows…); a busy or gone kernel does not
 *   answer, and the message is sent without them, saying so;
 * - files come from the notebook's folder through Jupyter's contents API.
 *
 * A reference is a string: `cell:<cell id>`, `error:<cell id>`, `var:<name>`,
 * `file:<path>`.
 */
import { notebookService } from './notebook.js';

/**
 * @typedef {{ref: string, label: string, detail: string, kind: string}} Candidate
 * @typedef {{kind: string, name: string, content: string}} ContextItem
 * @typedef {(question: any) => Promise<any>} AskKernel  rejects when the kernel does not answer
 */

export const KERNEL_TIMEOUT_MS = 3000;
/** The error an AskKernel rejects with when no kernel side is there at all. */
export const NO_KERNEL = 'no kernel is running';
const FILE_BYTES = 64 * 1024;
const CACHE_MS = 5000;
const MAX_CANDIDATES = 40;

/** @param {string} text */
function firstLine(text) {
  const line = text.split('\n').find((l) => l.trim()) || '';
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
}

export class ContextSource {
  /**
   * @param {import('./api.js').Api} api @param {Element} el where the view is (which notebook)
   * @param {AskKernel | null} askKernel null: no kernel side at all
   */
  constructor(api, el, askKernel) {
    this.api = api;
    this.el = el;
    this.askKernel = askKernel;
    /** @type {{at: number, list: Candidate[]} | null} */
    this.variables = null;
    /** @type {{at: number, list: Candidate[]} | null} */
    this.files = null;
  }

  /** Whether code can go into the notebook around the view. */
  canInsert() { return !!notebookService(); }

  /** @param {string} code */
  insertBelow(code) { return !!notebookService()?.insertBelow(this.el, code); }

  /** A cell's source as it is now in the notebook around the view; null when there is none. @param {string} cellId */
  cellSource(cellId) {
    const cell = (notebookService()?.cells(this.el) || []).find((c) => c.id === cellId);
    return cell ? cell.source : null;
  }

  /**
   * What `@query` completes to: errors first, then variables, cells, files.
   * @param {string} query @returns {Promise<Candidate[]>}
   */
  async candidates(query) {
    const [variables, files] = await Promise.all([this.kernelVariables(), this.folderFiles()]);
    const cells = [];
    const errors = [];
    for (const cell of notebookService()?.cells(this.el) || []) {
      if (cell.error) errors.unshift({ ref: `error:${cell.id}`, label: `error in ${cell.label}`, detail: cell.error.name, kind: 'error' });
      if (cell.source.trim()) cells.push({ ref: `cell:${cell.id}`, label: cell.label, detail: firstLine(cell.source), kind: 'cell' });
    }
    const wanted = query.toLowerCase();
    return [...errors, ...variables, ...cells, ...files]
      .filter((c) => !wanted || c.label.toLowerCase().includes(wanted) || c.detail.toLowerCase().includes(wanted))
      .slice(0, MAX_CANDIDATES);
  }

  /** @returns {Promise<Candidate[]>} */
  async kernelVariables() {
    if (!this.askKernel) return [];
    if (this.variables && Date.now() - this.variables.at < CACHE_MS) return this.variables.list;
    try {
      const answer = await this.askKernel({ type: 'variables' });
      const list = (answer.variables || []).map((/** @type {any} */ v) => ({
        ref: `var:${v.name}`, label: String(v.name), detail: [v.type, v.summary].filter(Boolean).join(' '), kind: 'variable',
      }));
      this.variables = { at: Date.now(), list };
      return list;
    } catch (_) { // a kernel that does not answer: not asked again at every keystroke
      this.variables = { at: Date.now(), list: [] };
      return [];
    }
  }

  /** @returns {Promise<Candidate[]>} */
  async folderFiles() {
    const folder = notebookService()?.folder(this.el);
    if (folder === null || folder === undefined) return [];
    if (this.files && Date.now() - this.files.at < CACHE_MS) return this.files.list;
    try {
      const listing = await this.contents(folder, 'content=1');
      const list = (listing.content || [])
        .filter((/** @type {any} */ f) => f.type === 'file' && !f.name.endsWith('.ipynb'))
        .map((/** @type {any} */ f) => ({ ref: `file:${f.path}`, label: f.name, detail: 'file', kind: 'file' }));
      this.files = { at: Date.now(), list };
      return list;
    } catch (_) {
      return [];
    }
  }

  /** Jupyter's contents API (the server's own, beside ours). @param {string} path @param {string} query */
  async contents(path, query) {
    const base = this.api.root.replace(/resumechat\/api\/$/, 'api/contents/');
    const url = `${base}${path.split('/').map(encodeURIComponent).join('/')}?${query}`;
    const response = await fetch(url, { credentials: 'same-origin', headers: this.api.headers() });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response.json();
  }

  /**
   * The attached items as they are now, and why any could not be read.
   * @param {{ref: string, label: string}[]} refs @returns {Promise<{items: ContextItem[], problems: string[]}>}
   */
  async resolve(refs) {
    /** @type {(ContextItem | null)[]} */
    const items = refs.map(() => null);
    /** @type {string[]} */
    const problems = [];
    const cells = new Map((notebookService()?.cells(this.el) || []).map((c) => [c.id, c]));
    /** @type {number[]} */
    const variables = [];
    await Promise.all(refs.map(async ({ ref, label }, i) => {
      const [kind, name] = [ref.slice(0, ref.indexOf(':')), ref.slice(ref.indexOf(':') + 1)];
      if (kind === 'cell' || kind === 'error') {
        const cell = cells.get(name);
        if (!cell) problems.push(`${label} is no longer in the notebook`);
        else if (kind === 'cell') items[i] = { kind: 'cell', name: cell.label, content: cellText(cell) };
        else if (cell.error) items[i] = { kind: 'error', name: cell.error.name, content: `${cell.label}:\n${cell.source}\n\n${cell.error.text}` };
        else problems.push(`${label} has no error any more`);
      } else if (kind === 'var') {
        variables.push(i);
      } else if (kind === 'file') {
        try {
          const file = await this.contents(name, 'content=1&type=file&format=text');
          const text = String(file.content || '');
          items[i] = { kind: 'file', name, content: text.length > FILE_BYTES ? `${text.slice(0, FILE_BYTES)}\n… (cut)` : text };
        } catch (error) {
          problems.push(`${label} could not be read (${/** @type {any} */ (error).message || error})`);
        }
      }
    }));
    if (variables.length) await this.kernelItems(refs, variables, items, problems);
    return { items: /** @type {ContextItem[]} */ (items.filter(Boolean)), problems };
  }

  /**
   * @param {{ref: string, label: string}[]} refs @param {number[]} wanted
   * @param {(ContextItem | null)[]} items @param {string[]} problems
   */
  async kernelItems(refs, wanted, items, problems) {
    const names = wanted.map((i) => refs[i].label).join(', ');
    if (!this.askKernel) {
      problems.push(`${names} (${NO_KERNEL})`);
      return;
    }
    try {
      const answer = await this.askKernel({ type: 'context', refs: wanted.map((i) => refs[i].ref) });
      const rendered = answer.items || [];
      for (const i of wanted) {
        const found = rendered.find((/** @type {any} */ c) => `var:${c.name}` === refs[i].ref);
        if (found) items[i] = { kind: found.kind, name: found.name, content: found.content };
      }
      problems.push(...(answer.problems || []));
    } catch (error) {
      const why = /** @type {any} */ (error).message === NO_KERNEL ? NO_KERNEL : 'the kernel did not answer (busy or gone)';
      problems.push(`${names} (${why})`);
    }
  }
}

/** @param {import('./notebook.js').CellInfo} cell */
function cellText(cell) {
  const output = cell.output.trim() ? `\n\nOutput:\n${cell.output}` : '';
  return `${cell.label}:\n${cell.source}${output}`;
}

/**
 * Ask a kernel side through `send` and wait for the answer `subscribe` hears
 * (matched by a request number), or reject after `timeout` ms.
 * @param {(message: any) => void} send
 * @param {(handler: (answer: any) => void) => () => void} subscribe returns the unsubscribe
 * @param {number} [timeout]
 * @returns {AskKernel}
 */
export function kernelAsker(send, subscribe, timeout = KERNEL_TIMEOUT_MS) {
  let counter = 0;
  return (question) => new Promise((resolve, reject) => {
    const request = `${Date.now()}-${++counter}`;
    const stop = subscribe((answer) => {
      if (answer && answer.request === request) { stop(); clearTimeout(timer); resolve(answer); }
    });
    const timer = setTimeout(() => { stop(); reject(new Error('the kernel did not answer')); }, timeout);
    send({ ...question, request });
  });
}
