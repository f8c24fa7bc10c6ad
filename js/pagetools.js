// @ts-check
/**
 * The six page tools (jupyter_resumechat/tools/page.py), run in the notebook a chat
 * view is in: cells are found by their nbformat id (the JupyterLab cell model's
 * `id`), never by position; a cell runs through the notebook's own session, as if
 * the user ran it (its prompt number and outputs appear in the notebook); the
 * kernel's variables come from a silent snippet.  What each answers is computed
 * by pageout.js.  Only the extension's bundle imports this (through the notebook
 * service, notebook-plugin.js): the widget's bundle must not carry JupyterLab.
 */
import { NotebookActions } from '@jupyterlab/notebook';
import { NO_KERNEL } from './context.js';
import { readAnswer, runAnswer, variablesAnswer, variablesSnippet } from './pageout.js';
import { Undos } from './undos.js';

/** A silent inspection that takes longer than this (a busy kernel) ends the call with an error. */
export const VARIABLES_TIMEOUT_MS = 15000;

/**
 * @typedef {{content: string} | {error: string}} Answer
 * @typedef {import('./undos.js').Undo} Undo
 * @typedef {{run: (name: string, args: any, callId?: string) => Promise<Answer>, interrupt: () => Promise<boolean>,
 *            executing: () => boolean, revertible: (callIds: string[]) => string[],
 *            revert: (callIds: string[]) => string[]}} PageTools
 *   `executing()`: a cell this page runs for a call is executing now (Stop interrupts it).
 *   `revertible(ids)`: those of the calls that this browser wrote and can take back (undos.js:
 *   kept across reloads); `revert(ids)` takes them back, newest first, each one undo step, except
 *   a cell changed since the run wrote it (the person's later work is never undone), and
 *   answers what it did not take back.
 */

/** A page call's cell whose kernel restarted (or died) while it ran ends with this error. */
export const KERNEL_RESTARTED = 'the kernel restarted while the cell ran';

class Refusal extends Error {}

/** How often, and for how many looks in a row, a kernel idle under a running cell means it was cut. */
const IDLE_POLL_MS = 500;
const IDLE_LOOKS = 6;

/**
 * Watches a session for its kernel restarting, dying or being replaced while a cell runs.
 * Its status signals can come too late or not at all (a restart from outside the page,
 * heard only after the run it cut short, or missed while the socket reconnected), so it
 * also looks at the kernel itself: idle for IDLE_LOOKS looks in a row while the cell's run
 * has not ended means nothing is running it any more.
 * @param {any} session a SessionContext
 */
function restartWatch(session) {
  let seen = false;
  /** @type {() => void} */
  let wake = () => {};
  const happened = new Promise((resolve) => { wake = () => resolve(undefined); });
  const note = () => { seen = true; wake(); };
  const onStatus = (/** @type {any} */ _, /** @type {string} */ status) => {
    if (['restarting', 'autorestarting', 'dead', 'starting'].includes(status)) note();
  };
  session?.statusChanged?.connect(onStatus);
  session?.kernelChanged?.connect(note);
  let idle = 0;
  const look = setInterval(() => {
    const kernel = session?.session?.kernel;
    idle = kernel?.status === 'idle' ? idle + 1 : 0;
    if (!kernel || kernel.status === 'dead' || idle >= IDLE_LOOKS) note();
  }, IDLE_POLL_MS);
  return {
    happened,
    seen: () => seen,
    stop: () => {
      clearInterval(look);
      session?.statusChanged?.disconnect(onStatus);
      session?.kernelChanged?.disconnect(note);
    },
  };
}

/**
 * The page tools of `panel` (a NotebookPanel).
 * @param {any} panel @returns {PageTools}
 */
export function pageTools(panel) {
  let executing = 0;
  const notebook = () => panel.content;
  const cells = () => /** @type {any[]} */ (notebook().widgets);
  /** @param {unknown} id */
  const find = (id) => {
    const index = cells().findIndex((c) => c.model.id === id);
    if (index < 0) throw new Refusal(`no cell with id ${JSON.stringify(id)} in ${panel.context?.path || 'the notebook'}`);
    return { index, cell: cells()[index] };
  };
  const kernel = () => {
    const live = panel.sessionContext?.session?.kernel;
    if (!live || live.isDisposed || live.status === 'dead') throw new Refusal(NO_KERNEL);
    return live;
  };
  const shared = () => notebook().model.sharedModel;
  const undos = new Undos((() => { try { return window.localStorage; } catch (_) { return null; } })());
  /** One undo step in the notebook (Ctrl+Z takes back exactly this change). @param {() => void} change */
  const step = (change) => {
    const model = shared();
    model.undoManager?.stopCapturing?.();
    model.transact(change);
    model.undoManager?.stopCapturing?.();
  };
  /** @type {Undo | null} set by a write tool for `run` to keep under its call id */
  let made = null;

  /** @type {Record<string, (args: any) => Promise<Answer> | Answer>} */
  const tools = {
    notebook_read: (args) => ({
      content: readAnswer(cells().map((c) => ({
        id: c.model.id, type: c.model.type, source: c.model.sharedModel.getSource(),
        execution_count: c.model.type === 'code' ? c.model.executionCount : null,
        outputs: c.model.type === 'code' ? c.model.outputs.toJSON() : [],
      })), Array.isArray(args.cell_ids) ? args.cell_ids.map(String) : []),
    }),
    notebook_insert_cell: (args) => {
      const at = args.after ? find(args.after).index + 1 : 0;
      const type = ['code', 'markdown', 'raw'].includes(args.cell_type) ? args.cell_type : 'code';
      // trusted as a cell the user made is: the user approved it (or allowed it always)
      /** @type {any} */
      let cell;
      step(() => {
        cell = shared().insertCell(at, { cell_type: type, source: String(args.source ?? ''),
          metadata: type === 'code' ? { trusted: true } : {} });
      });
      made = { kind: 'insert', id: cell.id, left: cell.getSource() };
      return { content: `inserted cell ${cell.id} (${type}) at position ${at + 1}` };
    },
    notebook_edit_cell: (args) => {
      const { cell } = find(args.cell_id);
      const source = cell.model.sharedModel.getSource();
      step(() => cell.model.sharedModel.setSource(String(args.source ?? '')));
      made = { kind: 'edit', id: String(args.cell_id), source, left: cell.model.sharedModel.getSource() };
      return { content: `edited cell ${args.cell_id}` };
    },
    notebook_delete_cell: (args) => {
      const { index, cell } = find(args.cell_id);
      const before = index > 0 ? cells()[index - 1].model.id : null;
      const json = cell.model.sharedModel.toJSON();
      step(() => shared().deleteCell(index));
      made = { kind: 'delete', id: String(args.cell_id), after: before, index, cell: json };
      return { content: `deleted cell ${args.cell_id}` };
    },
    notebook_run_cell: async (args) => {
      const { cell } = find(args.cell_id);
      if (cell.model.type !== 'code') throw new Refusal(`cell ${args.cell_id} is a ${cell.model.type} cell, not a code cell`);
      kernel();
      executing++;
      const restart = restartWatch(panel.sessionContext);
      try {
        // a restart cancels the cell's execution, or (restarted behind the page's back) leaves it
        // waiting for a reply that never comes: either way the call ends saying so
        const ran = NotebookActions.runCells(notebook(), [cell], panel.sessionContext);
        const ok = await Promise.race([ran, restart.happened]);
        // the kernel's status may come after the run it cut short: a run that failed with no
        // error output (an exception or an interrupt leaves one) was cut by the kernel going away
        const cut = ok === false && !cell.model.outputs.toJSON().some((/** @type {any} */ o) => o.output_type === 'error');
        if (restart.seen() || cut) throw new Refusal(KERNEL_RESTARTED);
      } finally {
        restart.stop();
        executing--;
      }
      return runAnswer(cell.model.outputs.toJSON());
    },
    kernel_variables: (args) => variables(kernel(), Array.isArray(args.names) ? args.names : []),
  };

  return {
    run: async (name, args, callId) => {
      const tool = tools[name];
      if (!tool) return { error: `${name} is not a page tool` };
      try {
        made = null;
        const answer = await tool(args && typeof args === 'object' ? args : {});
        if (made && callId) undos.set(callId, made);
        return answer;
      } catch (error) {
        return { error: error instanceof Refusal ? error.message : `${name} failed: ${/** @type {any} */ (error)?.message || error}` };
      }
    },
    interrupt: async () => {
      const live = panel.sessionContext?.session?.kernel;
      if (!live) return false;
      await live.interrupt();
      return true;
    },
    executing: () => executing > 0,
    revertible: (callIds) => callIds.filter((id) => undos.has(id)),
    revert: (callIds) => {
      /** @type {string[]} */
      const failed = [];
      for (const id of [...callIds].reverse()) {
        const undo = undos.get(id);
        if (!undo) continue;
        try {
          takeBack(undo);
        } catch (error) {
          failed.push(error instanceof Refusal ? error.message : String(/** @type {any} */ (error)?.message || error));
        }
        undos.delete(id); // tried once: a cell changed since stays as the person left it
      }
      return failed;
    },
  };

  /** A cell whose source is no longer what the run left was changed since: it is kept. @param {any} cell @param {string} left */
  function unchanged(cell, left) {
    if (typeof left === 'string' && cell.model.sharedModel.getSource() !== left) {
      throw new Refusal(`cell ${cell.model.id} was changed after the run: kept as it is`);
    }
  }

  /** @param {Undo} undo */
  function takeBack(undo) {
    if (undo.kind === 'insert') {
      const at = cells().findIndex((c) => c.model.id === undo.id);
      if (at < 0) return; // already gone: nothing to take back
      unchanged(cells()[at], undo.left);
      step(() => shared().deleteCell(at));
    } else if (undo.kind === 'edit') {
      const { cell } = find(undo.id);
      unchanged(cell, undo.left);
      step(() => cell.model.sharedModel.setSource(undo.source));
    } else {
      if (cells().some((c) => c.model.id === undo.id)) return; // back already
      const prev = cells().findIndex((c) => c.model.id === undo.after);
      const at = prev >= 0 ? prev + 1 : Math.min(undo.index, cells().length); // its neighbour gone: its old place
      step(() => { shared().insertCell(at, undo.cell); });
    }
  }
}

/**
 * The kernel's variables: a silent execution (no prompt number, no history) that prints one JSON line.
 * @param {any} kernel @param {string[]} names @returns {Promise<Answer>}
 */
async function variables(kernel, names) {
  const future = kernel.requestExecute({ code: variablesSnippet(names), silent: true, store_history: false,
    allow_stdin: false, stop_on_error: false });
  let printed = '';
  let failure = '';
  future.onIOPub = (/** @type {any} */ msg) => {
    const type = msg.header.msg_type;
    if (type === 'stream') printed += msg.content.text;
    else if (type === 'error') failure = `${msg.content.ename}: ${msg.content.evalue}`;
  };
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve('late'), VARIABLES_TIMEOUT_MS); });
  try {
    const reply = await Promise.race([future.done, late]);
    if (reply === 'late') {
      future.dispose();
      return { error: `the kernel did not answer in ${VARIABLES_TIMEOUT_MS / 1000} s (busy?)` };
    }
  } catch (error) {
    return { error: failure || `the kernel could not be asked: ${/** @type {any} */ (error)?.message || error}` };
  } finally {
    clearTimeout(timer);
  }
  if (failure) return { error: failure };
  try {
    return { content: variablesAnswer(printed) };
  } catch (_) {
    return { error: `the kernel's answer could not be read: ${printed.slice(0, 200)}` };
  }
}
