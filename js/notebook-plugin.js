// @ts-check
/**
 * The plugin that publishes the notebook service (notebook.js) for chat views:
 * the cells of the notebook a view is in (else the current notebook), and a
 * new cell below the view's cell (else below the active cell).  Only the
 * extension's bundle imports this: the widget's bundle must not carry
 * JupyterLab.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { EXPLAIN_EVENT, SERVICE } from './notebook.js';
import { pageTools } from './pagetools.js';

/** @typedef {import('./notebook.js').CellInfo} CellInfo @typedef {import('./notebook.js').NotebookService} NotebookService */

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const OUTPUT_CHARS = 4000;

/** @param {any} output an nbformat output */
function outputText(output) {
  if (output.output_type === 'stream') return String(output.text || '');
  if (output.output_type === 'error') return (output.traceback || []).join('\n').replace(ANSI, '');
  const data = output.data || {};
  const plain = data['text/plain'];
  return Array.isArray(plain) ? plain.join('') : String(plain || '');
}

/** @param {any} cell a cell widget @param {number} index @returns {CellInfo} */
function describeCell(cell, index) {
  const model = cell.model;
  const outputs = model.type === 'code' ? model.outputs.toJSON() : [];
  const failed = outputs.find((/** @type {any} */ o) => o.output_type === 'error');
  const count = model.type === 'code' ? model.executionCount : null;
  return {
    id: model.id,
    label: count ? `In [${count}]` : `cell ${index + 1}`,
    type: model.type,
    source: model.sharedModel.getSource(),
    output: outputs.map(outputText).join('\n').slice(0, OUTPUT_CHARS),
    error: failed ? { name: `${failed.ename}: ${failed.evalue}`.slice(0, 200), text: outputText(failed) } : null,
  };
}

/** @type {import('@jupyterlab/application').JupyterFrontEndPlugin<void>} */
export const notebookPlugin = {
  id: 'jupyter-resumechat:notebook',
  description: 'Lets chat views read the cells of their notebook and insert a cell below.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app, /** @type {any} */ tracker) => {
    /** The notebook holding `el`, else the current one (a chat opened from the side panel). @param {Element} el */
    const panelOf = (el) => tracker.find((/** @type {any} */ p) => p.node.contains(el)) || tracker.currentWidget;
    /** The page tools of each open notebook (one, however many chat views it has). */
    const tools = new Map();
    /** @type {NotebookService} */
    const service = {
      cells: (el) => {
        const panel = panelOf(el);
        return panel ? panel.content.widgets.map(describeCell) : [];
      },
      insertBelow: (el, code) => {
        const panel = panelOf(el);
        if (!panel) return false;
        const notebook = panel.content;
        const holder = notebook.widgets.findIndex((/** @type {any} */ c) => c.node.contains(el));
        if (holder >= 0) notebook.activeCellIndex = holder; // below the panel's own cell, else the active one
        NotebookActions.insertBelow(notebook);
        notebook.activeCell?.model.sharedModel.setSource(code);
        notebook.mode = 'command';
        return true;
      },
      pageTools: (el) => {
        // only the notebook the view is in: a chat opened from the side panel has none
        const panel = tracker.find((/** @type {any} */ p) => p.node.contains(el));
        if (!panel) return 'this chat is not in a notebook (open it in its notebook to let it use the notebook)';
        const holder = panel.content.widgets.find((/** @type {any} */ c) => c.node.contains(el));
        if (holder && holder.model.type === 'code' && holder.model.trusted === false) return 'the notebook is not trusted';
        if (!tools.has(panel)) {
          tools.set(panel, pageTools(panel));
          panel.disposed.connect(() => tools.delete(panel));
        }
        return tools.get(panel);
      },
      folder: (el) => {
        const context = panelOf(el)?.context;
        const path = context ? context.localPath ?? context.path : null; // localPath: without a drive (RTC:)
        return typeof path === 'string' ? path.split('/').slice(0, -1).join('/') : null;
      },
    };
    /** @type {any} */ (window)[SERVICE] = service;

    // "Explain this error in the chat": a failed cell's context menu asks the notebook's chat.
    /** The cell the context menu was opened on. */
    const clickedCell = () => {
      const node = app.contextMenuHitTest((n) => n.classList.contains('jp-Cell'));
      const panel = node && tracker.find((/** @type {any} */ p) => p.node.contains(node));
      const cell = panel?.content.widgets.find((/** @type {any} */ c) => c.node === node);
      return cell ? { panel, cell } : null;
    };
    const hasError = () => {
      const found = clickedCell();
      return !!found && found.cell.model.type === 'code'
        && found.cell.model.outputs.toJSON().some((/** @type {any} */ o) => o.output_type === 'error');
    };
    const command = 'resumechat:explain-error';
    app.commands.addCommand(command, {
      label: 'Explain this error in the chat',
      isVisible: hasError,
      execute: async () => {
        const found = clickedCell();
        if (!found) return;
        /** @type {{notebook: Element, cellId: string, offers: import('./notebook.js').ExplainOffer[]}} */
        const detail = { notebook: found.panel.node, cellId: found.cell.model.id, offers: [] };
        window.dispatchEvent(new CustomEvent(EXPLAIN_EVENT, { detail }));
        const ready = detail.offers.filter((o) => o.ready).sort((a, b) => Number(b.own) - Number(a.own));
        if (ready.length) { ready[0].accept(); return; }
        await showDialog({
          title: detail.offers.length ? 'The chat is busy' : 'No chat in this notebook yet',
          body: detail.offers.length
            ? 'A reply is streaming (or the chat is loading): ask again when it has finished.'
            : 'Run ChatPanel() in a cell first; then ask it about the error.',
          buttons: [Dialog.okButton()],
        });
      },
    });
    app.contextMenu.addItem({ command, selector: '.jp-CodeCell', rank: 30 });
  },
};
