// @ts-check
/**
 * A tool call as a card in its reply (docs/protocol.md#show-trust): its name,
 * a one-line summary, its arguments (a diff for a cell edit), a status badge,
 * its result (folded when long) and its error.  A call awaiting approval has
 * **Approve**, **Deny** and **Always for this conversation**, real buttons
 * whose decision goes out through `onDecide`; the first decision made in any
 * view wins, and the `tool` event that says so redraws the card everywhere.
 *
 * A tool's result and arguments are untrusted input (docs/protocol.md#untrusted-output):
 * they are set as text, never parsed as HTML.  What a card says is computed
 * by pure functions (`callSummary`, `argumentsView`, `resultView`, …), tested
 * without a browser; `drawCard` only puts it into elements.
 */
import { diffLines } from 'diff';
import { button, h } from './dom.js';

/** @typedef {import('./state.js').ToolCall} ToolCall @typedef {Extract<import('./state.js').Part, {type: 'tool'}>} ToolPart */
/**
 * @typedef {{decision: 'approve' | 'deny', note?: string}} Decision
 * @typedef {'approve' | 'deny' | 'always'} Choice
 * @typedef {{op: 'add' | 'remove' | 'same', text: string}} DiffLine
 * @typedef {{kind: 'raw', text: string} | {kind: 'json', text: string}
 *   | {kind: 'diff', cellId: string, lines: DiffLine[]}} ArgumentsView
 * @typedef {{streamId: string | null, onDecide?: (streamId: string, callId: string, decision: Decision) => Promise<boolean>,
 *            cellSource?: (cellId: string) => string | null, clientId?: string,
 *            onRunAgain?: (call: ToolCall) => void}} CardActions
 *   `streamId`: the stream the call was seen on (null for a committed reply: no buttons);
 *   `onDecide` resolves false when the decision could not be sent (the buttons come back);
 *   `cellSource`: the notebook's cell as it is now, the "before" of an edit not yet made;
 *   `clientId`: the id this view claims page calls with (its own run reads "Running here");
 *   `onRunAgain`: a page call whose outcome is unknown (its page went away) asked for again.
 */

/** A result longer than this many characters, or lines, is folded. */
export const FOLD_CHARS = 600;
export const FOLD_LINES = 12;
const SUMMARY_CHARS = 80;

/** What each status (docs/protocol.md `ToolCall.status`) reads as on the badge. */
export const STATUS_LABELS = /** @type {Record<string, string>} */ ({
  proposed: 'Proposed',
  awaiting_approval: 'Awaiting approval',
  approved: 'Approved',
  running: 'Running…',
  done: 'Done',
  error: 'Failed',
  denied: 'Denied',
  cancelled: 'Cancelled',
  unknown: 'Outcome unknown',
});

/** Statuses after which the call has not yet touched the notebook (so the cell as it is now is the "before"). */
const NOT_RUN = new Set(['proposed', 'awaiting_approval', 'approved']);

/** The body each choice POSTs to `streams/{sid}/tools/{call_id}/decision`. */
export const DECISIONS = /** @type {Record<Choice, Decision>} */ ({
  approve: { decision: 'approve' },
  deny: { decision: 'deny' },
  always: { decision: 'approve', note: 'always' },
});
const CHOICE_LABELS = /** @type {[Choice, string][]} */ ([
  ['approve', 'Approve'], ['deny', 'Deny'], ['always', 'Always for this conversation'],
]);

/** @param {string} text @param {number} size */
function cut(text, size) {
  const line = text.split('\n', 1)[0];
  return line.length > size || line.length < text.length ? `${line.slice(0, size - 1)}…` : line;
}

/** @param {ToolCall} call @returns {Record<string, any>} */
function argumentsOf(call) {
  const args = call.arguments;
  return args && typeof args === 'object' && !Array.isArray(args) ? args : {};
}

/** @param {number} count @param {string} one */
function plural(count, one) { return `${count} ${one}${count === 1 ? '' : 's'}`; }

/**
 * The card's one line: what the call does, in words for the tools the product knows, else its arguments.
 * @param {ToolCall} call
 */
export function callSummary(call) {
  const a = argumentsOf(call);
  const cell = String(a.cell_id ?? '');
  switch (call.name) {
    case 'notebook_read': return Array.isArray(a.cell_ids) && a.cell_ids.length ? `Read ${plural(a.cell_ids.length, 'cell')}` : 'Read the notebook';
    case 'notebook_insert_cell': return `Insert a ${a.cell_type || 'code'} cell ${a.after ? `after ${a.after}` : 'at the top'}`;
    case 'notebook_edit_cell': return `Edit cell ${cell}`;
    case 'notebook_delete_cell': return `Delete cell ${cell}`;
    case 'notebook_run_cell': return `Run cell ${cell}`;
    case 'kernel_variables': return Array.isArray(a.names) && a.names.length ? `Read ${cut(a.names.join(', '), SUMMARY_CHARS)}` : 'List the kernel\'s variables';
    case 'file_list': return `List ${a.path || 'the top folder'}`;
    case 'file_read': return `Read ${a.path ?? ''}`;
    case 'file_write': return `Write ${a.path ?? ''}`;
    default: return Object.keys(a).length ? cut(JSON.stringify(a), SUMMARY_CHARS) : '';
  }
}

/**
 * The lines of a change from `before` to `after` (jsdiff's line diff), each marked.
 * @param {string} before @param {string} after @returns {DiffLine[]}
 */
export function diffSource(before, after) {
  /** @type {DiffLine[]} */
  const lines = [];
  for (const change of diffLines(before, after)) {
    const op = change.added ? 'add' : change.removed ? 'remove' : 'same';
    const text = change.value.endsWith('\n') ? change.value.slice(0, -1) : change.value;
    for (const line of text.split('\n')) lines.push({ op, text: line });
  }
  return lines;
}

/**
 * How a call's arguments show: raw while they stream; a diff for a cell edit whose old source is
 * known (the arguments' `old_source`, else the cell as it is now while the edit has not run);
 * pretty JSON otherwise.
 * @param {ToolPart} part @param {(cellId: string) => string | null} [cellSource]
 * @returns {ArgumentsView}
 */
export function argumentsView(part, cellSource) {
  if (part.argumentsText) return { kind: 'raw', text: part.argumentsText };
  const call = part.call;
  const a = argumentsOf(call);
  if (call.name === 'notebook_edit_cell' && typeof a.source === 'string') {
    const cellId = String(a.cell_id ?? '');
    const before = typeof a.old_source === 'string' ? a.old_source
      : NOT_RUN.has(call.status) && cellSource ? cellSource(cellId) : null;
    if (typeof before === 'string') return { kind: 'diff', cellId, lines: diffSource(before, a.source) };
  }
  return { kind: 'json', text: call.arguments == null ? '' : JSON.stringify(call.arguments, null, 2) };
}

/**
 * A result as text (a non-string content as JSON), and whether it is long enough to fold.
 * @param {ToolCall['result']} result
 * @returns {{text: string, folded: boolean, truncated: boolean} | null}
 */
export function resultView(result) {
  if (!result) return null;
  const content = result.content;
  const text = typeof content === 'string' ? content : JSON.stringify(content, null, 2) ?? '';
  const lines = text.split('\n').length;
  return { text, folded: text.length > FOLD_CHARS || lines > FOLD_LINES, truncated: !!result.truncated };
}

/**
 * The badge's words: a page call says where it runs (this view, another one) or that it waits for a page.
 * @param {ToolCall} call @param {string} [clientId]
 */
export function statusLabel(call, clientId) {
  const status = call.status || 'proposed';
  if (call.runs_on === 'page') {
    if (status === 'running') return call.claimed_by && call.claimed_by === clientId ? 'Running here…' : 'Running elsewhere';
    if (status === 'approved') return 'Approved: waiting for the notebook';
  }
  return STATUS_LABELS[status] || status;
}

/** Whether a card offers "Run again": a page call whose page went away, on a committed reply. @param {ToolCall} call @param {string | null} streamId */
export function canRunAgain(call, streamId) {
  return call.runs_on === 'page' && call.status === 'unknown' && !streamId;
}

/** Whether a card offers the decision buttons. @param {ToolCall} call @param {string | null} streamId */
export function canDecide(call, streamId) {
  return call.status === 'awaiting_approval' && !!streamId;
}

/**
 * The card of one tool part.
 * @param {ToolPart} part @param {CardActions} actions @returns {HTMLElement}
 */
export function drawCard(part, actions) {
  const call = part.call;
  const status = call.status || 'proposed';
  const card = h('div', `rc-card rc-call-${status}`);
  card.dataset.callId = call.id;
  card.setAttribute('role', 'group');
  card.setAttribute('aria-label', `Tool call ${call.name || ''}`.trim());
  const head = h('div', 'rc-card-head');
  const badge = h('span', `rc-card-status rc-card-status-${status}`, statusLabel(call, actions.clientId));
  if (call.runs_on === 'page' && status === 'running') {
    badge.title = call.claimed_by === actions.clientId ? 'This view runs it in its notebook'
      : 'Another view of this notebook runs it (another tab or window, or this one before a reload)';
  }
  head.append(h('code', 'rc-card-name', call.name || 'tool call'), h('span', 'rc-card-summary', callSummary(call)), badge);
  card.append(head, drawArguments(argumentsView(part, actions.cellSource), status === 'awaiting_approval'));
  if (canDecide(call, actions.streamId) && actions.onDecide) card.append(drawDecision(call, actions));
  const result = resultView(call.result);
  if (result) card.append(drawResult(result));
  if (canRunAgain(call, actions.streamId) && actions.onRunAgain) {
    const again = button('Run again', 'rc-card-run-again');
    again.setAttribute('data-lm-suppress-shortcuts', 'true');
    again.title = 'Its page went away while it ran, so nobody knows what it did: ask the model to call it again';
    again.addEventListener('click', () => actions.onRunAgain?.(call));
    card.append(again);
  }
  if (call.error) {
    const error = h('div', 'rc-card-error', `${call.error.type}: ${call.error.detail}`);
    error.setAttribute('role', 'note');
    card.append(error);
  }
  return card;
}

/** @param {ArgumentsView} view @param {boolean} open */
function drawArguments(view, open) {
  const details = /** @type {HTMLDetailsElement} */ (h('details', 'rc-card-args'));
  details.open = open || view.kind === 'raw';
  details.append(h('summary', '', view.kind === 'diff' ? `Change to cell ${view.cellId}` : 'Arguments'));
  if (view.kind === 'diff') {
    const pre = h('pre', 'rc-diff');
    pre.append(...view.lines.map((line) => {
      const mark = line.op === 'add' ? '+' : line.op === 'remove' ? '-' : ' ';
      return h('span', `rc-diff-line rc-diff-${line.op}`, `${mark} ${line.text}\n`);
    }));
    details.append(pre);
  } else {
    details.append(h('pre', `rc-card-json${view.kind === 'raw' ? ' rc-card-raw' : ''}`, view.text));
  }
  return details;
}

/** @param {ToolCall} call @param {CardActions} actions */
function drawDecision(call, actions) {
  const row = h('div', 'rc-card-decide');
  const buttons = CHOICE_LABELS.map(([choice, label]) => {
    const element = button(label, `rc-decide rc-decide-${choice}`);
    // Enter and Space on it are the panel's, not the notebook's (Notebook 7 matches keys on the focused element)
    element.setAttribute('data-lm-suppress-shortcuts', 'true');
    element.addEventListener('click', async () => {
      buttons.forEach((b) => { b.disabled = true; });
      row.setAttribute('aria-busy', 'true');
      const sent = await /** @type {NonNullable<CardActions['onDecide']>} */ (actions.onDecide)(
        /** @type {string} */ (actions.streamId), call.id, DECISIONS[choice]);
      row.removeAttribute('aria-busy');
      if (!sent) buttons.forEach((b) => { b.disabled = false; }); // else the call's next event redraws the card
    });
    return element;
  });
  row.append(...buttons);
  return row;
}

/** @param {{text: string, folded: boolean, truncated: boolean}} result */
function drawResult(result) {
  const details = /** @type {HTMLDetailsElement} */ (h('details', 'rc-card-result'));
  details.open = !result.folded;
  const lines = result.text.split('\n').length;
  const size = result.folded ? ` (${plural(lines, 'line')})` : '';
  details.append(h('summary', '', `Result${size}${result.truncated ? ', cut' : ''}`), h('pre', 'rc-card-output', result.text));
  return details;
}
