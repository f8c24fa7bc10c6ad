// @ts-check
/**
 * The Chats side panel's list, drawn as JupyterLab's file browser draws its
 * listing (the same `jp-DirListing` classes, so the same rows, type, hover
 * and selection in every theme): a toolbar (search, refresh), then one row per
 * conversation, newest first, with its icon, title and age; rename and delete
 * are icons shown on hover (and on the focused row), and the same actions are
 * in the row's context menu (commands the plugin registers).
 */
import { Dialog, InputDialog, showDialog } from '@jupyterlab/apputils';
import { Toolbar, ToolbarButton, deleteIcon, editIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import { Api } from './api.js';
import { DELETED_EVENT } from './mime.js';
import { describe } from './session.js';

/**
 * How the front end shows chats: open one, close the one showing a conversation.
 * @typedef {{open: (id: string, title: string) => void, close: (id: string) => void}} Opener
 * @typedef {{id: string, title: string, updated_at: string}} Listed
 */

/** @param {string} tag @param {string} className @param {string} [text] @returns {HTMLElement} */
function h(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** "3 min ago", as the file browser's Modified column says it. @param {string} iso */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (Number.isNaN(seconds)) return '';
  if (seconds < 60) return 'now';
  for (const [unit, size] of /** @type {[string, number][]} */ ([['day', 86400], ['hr', 3600], ['min', 60]])) {
    if (seconds >= size) return `${Math.floor(seconds / size)} ${unit}${unit === 'day' && seconds >= 2 * size ? 's' : ''} ago`;
  }
  return '';
}

export class ConversationList extends Panel {
  /** @param {Api} api @param {Opener} opener @param {import('@jupyterlab/ui-components').LabIcon} icon */
  constructor(api, opener, icon) {
    super();
    this.api = api;
    this.opener = opener;
    this.icon = icon;
    /** @type {Listed[]} */
    this.all = [];
    this.addClass('rc-conversations');
    this.addClass('jp-FileBrowser');
    this.search = /** @type {HTMLInputElement} */ (h('input', 'rc-search jp-mod-styled'));
    this.search.placeholder = 'Search by title';
    this.search.setAttribute('aria-label', 'Search conversations by title');
    const toolbar = new Toolbar();
    toolbar.addClass('jp-FileBrowser-toolbar');
    toolbar.addItem('refresh', new ToolbarButton({
      icon: refreshIcon, tooltip: 'Refresh the list', className: 'rc-refresh', onClick: () => { this.load(); },
    }));
    this.toolbar = toolbar;
    const listing = h('div', 'jp-DirListing');
    this.list = h('ul', 'rc-list jp-DirListing-content');
    this.list.setAttribute('aria-label', 'Chats');
    listing.append(this.list);
    this.notice = h('div', 'rc-notice');
    const body = h('div', 'rc-conversations-body');
    body.append(this.search, this.notice, listing);
    this.addWidget(toolbar);
    this.addWidget(new Widget({ node: body }));
    this.search.addEventListener('input', () => this.draw());
  }

  /** @param {any} msg */
  onAfterShow(msg) { super.onAfterShow(msg); this.load(); }

  async load() {
    try {
      this.all = (await this.api.conversations()).conversations;
      this.notice.textContent = '';
    } catch (error) { this.notice.textContent = describe(error); }
    this.draw();
  }

  draw() {
    const wanted = this.search.value.trim().toLowerCase();
    const shown = this.all.filter((c) => (c.title || '').toLowerCase().includes(wanted));
    this.list.replaceChildren(...shown.map((c) => this.item(c)));
  }

  /** The conversation of a row (a context menu's target). @param {Element | null | undefined} node */
  find(node) {
    const id = node instanceof HTMLElement ? node.closest('.rc-conversation')?.getAttribute('data-id') : null;
    return this.all.find((c) => c.id === id) || null;
  }

  /** @param {Listed} conversation */
  item(conversation) {
    const li = h('li', 'rc-conversation jp-DirListing-item');
    li.dataset.id = conversation.id;
    li.title = `${conversation.title || 'Untitled'}\nUpdated ${new Date(conversation.updated_at).toLocaleString()}`;
    const icon = h('span', 'jp-DirListing-itemIcon');
    this.icon.element({ container: icon });
    const title = h('button', 'rc-open jp-DirListing-itemText', conversation.title || 'Untitled');
    const when = h('span', 'jp-DirListing-itemModified', age(conversation.updated_at));
    const actions = h('span', 'rc-row-actions');
    const rename = this.action('rc-rename', editIcon, `Rename "${conversation.title || 'Untitled'}"`, () => this.rename(conversation));
    const remove = this.action('rc-delete', deleteIcon, `Delete "${conversation.title || 'Untitled'}"`, () => this.remove(conversation));
    actions.append(rename, remove);
    title.addEventListener('click', () => this.opener.open(conversation.id, conversation.title));
    li.append(icon, title, actions, when);
    return li;
  }

  /**
   * An icon button shown on the row's hover.
   * @param {string} className @param {import('@jupyterlab/ui-components').LabIcon} icon @param {string} label @param {() => void} act
   */
  action(className, icon, label, act) {
    const button = /** @type {HTMLButtonElement} */ (h('button', `${className} rc-row-action jp-Button jp-mod-minimal`));
    button.type = 'button';
    button.title = label;
    button.setAttribute('aria-label', label);
    icon.element({ container: button, elementSize: 'normal' });
    button.addEventListener('click', (event) => { event.stopPropagation(); act(); });
    return button;
  }

  /** @param {{id: string, title: string}} conversation */
  async rename(conversation) {
    const answer = await InputDialog.getText({ title: 'Rename the conversation', text: conversation.title });
    if (!answer.button.accept || !answer.value || !answer.value.trim()) return;
    await this.act(() => this.api.rename(conversation.id, answer.value?.trim() || ''));
  }

  /** @param {{id: string, title: string}} conversation */
  async remove(conversation) {
    const answer = await showDialog({
      title: 'Delete the conversation?',
      body: `"${conversation.title || 'Untitled'}" and all its messages will be deleted.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })],
    });
    if (!answer.button.accept) return;
    await this.act(async () => {
      await this.api.remove(conversation.id);
      this.opener.close(conversation.id); // its open chat goes, rather than say "not found"
      window.dispatchEvent(new CustomEvent(DELETED_EVENT, { detail: { id: conversation.id } }));
    });
  }

  /** @param {() => Promise<any>} request */
  async act(request) {
    try { await request(); } catch (error) { this.notice.textContent = describe(error); }
    await this.load();
  }
}
