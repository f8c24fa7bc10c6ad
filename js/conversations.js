// @ts-check
/**
 * JupyterLab / Notebook 7 plugin: a side panel of the user's conversations
 * (newest first, search by title, rename, delete after confirmation, open
 * one kernel-free) and the command "Open this notebook's chat", which opens
 * the conversation the current notebook's saved output names.  The chat it
 * opens is the same kernel-free view as an output's (mime.js), given an id
 * instead of an output.  JupyterLab: the list in the left sidebar, each chat
 * in a tab of the main area.  Notebook 7, whose main area holds one document:
 * the list and the chat it opens in the right sidebar.
 */
import { ICommandPalette, MainAreaWidget, Dialog, showDialog } from '@jupyterlab/apputils';
import { ILabShell } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Api } from './api.js';
import { ConversationList } from './chatlist.js';
import { ChatRenderer, MIME_TYPE } from './mime.js';
import { renderPlugin } from './lab-render.js';
import { notebookPlugin } from './notebook-plugin.js';
import { CHANGED_EVENT as SETTINGS_CHANGED, SERVICE as SETTINGS, readSettings } from './settings.js';
import { SERVICE as SHORTCUTS, shortcutService } from './shortcuts.js';

const ICON = new LabIcon({
  name: 'jupyter-resumechat:chats',
  svgstr: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" '
    + 'd="M4 4h16v11H8l-4 4z"/></svg>',
});

/**
 * The id of the notebook's own chat that its outputs hold, if any.
 * @param {any} notebookModel
 */
export function notebookConversation(notebookModel) {
  for (const cell of notebookModel?.cells || []) {
    const outputs = cell.type === 'code' ? cell.outputs : null;
    for (let i = 0; outputs && i < outputs.length; i++) {
      const data = outputs.get(i).data[MIME_TYPE];
      if (data && data.conversation_id && data.notebook) return { id: String(data.conversation_id), title: String(data.title || 'Chat') };
    }
  }
  return null;
}

/**
 * JupyterLab: a chat opens in a tab of the main area (one per conversation).
 * @param {import('@jupyterlab/application').JupyterFrontEnd} app
 * @returns {import('./chatlist.js').Opener}
 */
function inMainArea(app) {
  const find = (/** @type {string} */ id) => [...app.shell.widgets('main')].find((w) => w.id === `rc-chat-${id}`);
  const open = (/** @type {string} */ id, /** @type {string} */ title) => {
    const existing = `rc-chat-${id}`;
    if (find(id)) { app.shell.activateById(existing); return; }
    const chat = new ChatRenderer({ mimeType: MIME_TYPE });
    chat.start({ conversation_id: id, title });
    const main = new MainAreaWidget({ content: chat });
    main.id = existing;
    main.title.label = title || 'Chat';
    main.title.icon = ICON;
    main.title.closable = true;
    app.shell.add(main, 'main');
    app.shell.activateById(main.id);
  };
  return { open, close: (id) => find(id)?.dispose() };
}

/**
 * Notebook 7: its main area takes no second widget, so one chat lives in the right
 * sidebar, beside the list (View > Right Sidebar switches between them); opening
 * another conversation shows it there.
 * @param {import('@jupyterlab/application').JupyterFrontEnd} app
 * @param {() => string} listId the list's id, shown again when its chat is closed
 * @returns {import('./chatlist.js').Opener}
 */
function inSidebar(app, listId) {
  /** @type {ChatRenderer | null} */
  let chat = null;
  const open = (/** @type {string} */ id, /** @type {string} */ title) => {
    if (!chat || chat.isDisposed) {
      chat = new ChatRenderer({ mimeType: MIME_TYPE });
      chat.id = 'rc-sidebar-chat';
      chat.title.icon = ICON;
      chat.title.caption = 'Chat';
      chat.start({ conversation_id: id, title });
      const back = document.createElement('button'); // the list shares the sidebar: the way back to it
      back.className = 'rc-back jp-Button jp-mod-minimal';
      back.textContent = '‹ All chats';
      back.setAttribute('aria-label', 'Back to the list of chats');
      back.addEventListener('click', () => app.shell.activateById(listId()));
      chat.node.prepend(back);
      app.shell.add(chat, 'right', { rank: 901 });
    } else {
      chat.showConversation(id, title);
    }
    app.shell.activateById(chat.id);
  };
  const close = (/** @type {string} */ id) => {
    if (!chat || chat.isDisposed || chat.data.conversation_id !== id) return;
    chat.dispose();
    app.shell.activateById(listId());
  };
  return { open, close };
}

/**
 * The list's rows have a context menu, as the file browser's do: open, rename, delete.
 * @param {import('@jupyterlab/application').JupyterFrontEnd} app @param {ConversationList} list
 */
function contextMenu(app, list) {
  const target = () => list.find(app.contextMenuHitTest((node) => node.classList.contains('rc-conversation')));
  const items = /** @type {[string, string, (c: import('./chatlist.js').Listed) => void][]} */ ([
    ['resumechat:open-chat', 'Open', (c) => list.opener.open(c.id, c.title)],
    ['resumechat:rename-chat', 'Rename…', (c) => { list.rename(c); }],
    ['resumechat:delete-chat', 'Delete…', (c) => { list.remove(c); }],
  ]);
  items.forEach(([id, label, act], rank) => {
    app.commands.addCommand(id, {
      label,
      isVisible: () => !!target(),
      execute: () => { const found = target(); if (found) act(found); },
    });
    app.contextMenu.addItem({ command: id, selector: '.rc-conversation', rank });
  });
}

/** @type {import('@jupyterlab/application').JupyterFrontEndPlugin<void>} */
const plugin = {
  id: 'jupyter-resumechat:conversations',
  description: 'A side panel of chats and a command that opens the notebook\'s chat, with no kernel.',
  autoStart: true,
  optional: [INotebookTracker, ICommandPalette, ILabShell, ISettingRegistry],
  activate: (app, /** @type {any} */ notebooks, /** @type {any} */ palette, /** @type {any} */ labShell, /** @type {any} */ registry) => {
    // the Settings Editor's values (schema/conversations.json), for every chat view of the page
    registry?.load(plugin.id).then((/** @type {any} */ settings) => {
      const publish = () => {
        /** @type {any} */ (window)[SETTINGS] = readSettings(settings.composite);
        window.dispatchEvent(new Event(SETTINGS_CHANGED));
      };
      publish();
      settings.changed.connect(publish);
    }, (/** @type {any} */ error) => console.warn('jupyter-resumechat: settings not loaded', error));
    const api = Api.fromPage();
    const listId = 'rc-conversations';
    /** @type {import('./chatlist.js').Opener} */
    const opener = labShell ? inMainArea(app) : inSidebar(app, () => listId);
    const open = opener.open;
    const list = new ConversationList(api, opener, ICON);
    contextMenu(app, list);
    list.id = listId;
    list.title.icon = ICON;
    list.title.caption = 'Chats';
    app.shell.add(list, labShell ? 'left' : 'right', { rank: 900 });
    const show = 'resumechat:show-chats';
    app.commands.addCommand(show, {
      label: 'Chats Panel',
      caption: 'Show the list of chats',
      execute: () => app.shell.activateById(list.id),
    });
    palette?.addItem({ command: show, category: 'Chat' });

    const command = 'resumechat:open-notebook-chat';
    app.commands.addCommand(command, {
      label: 'Open this notebook\'s chat',
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async () => {
        const found = notebookConversation(notebooks?.currentWidget?.content.model);
        if (found) { open(found.id, found.title); return; }
        await showDialog({
          title: 'No chat in this notebook yet',
          body: 'Run ChatPanel() in a cell first; its output names the conversation.',
          buttons: [Dialog.okButton()],
        });
      },
    });
    palette?.addItem({ command, category: 'Chat' });
  },
};

/** @type {import('@jupyterlab/application').JupyterFrontEndPlugin<void>} */
const shortcutsPlugin = {
  id: 'jupyter-resumechat:shortcuts',
  description: 'Hands the application\'s shortcuts typed in a chat panel to the application (Ctrl+S saves).',
  autoStart: true,
  activate: (app) => {
    /** @type {any} */ (window)[SHORTCUTS] = shortcutService({
      bindings: () => app.commands.keyBindings,
      keystroke: (event) => CommandRegistry.keystrokeForKeydownEvent(event),
    });
  },
};

export default [plugin, notebookPlugin, shortcutsPlugin, renderPlugin];
