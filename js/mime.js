// @ts-check
/**
 * The kernel-free view of a chat (docs/protocol.md#outlives-kernel): a JupyterLab / Notebook 7
 * MIME renderer for `application/vnd.jupyter.resumechat+json`, which a
 * ChatPanel puts in its output next to the widget view.  It is ranked before
 * the widget view, so it is what shows, with a kernel, without one, or while
 * the kernel is busy: it needs only the output's data (the conversation's id,
 * or the key to get-or-create it), and talks to the server itself: a chat
 * mounted by mount.js, as the widget's is.
 *
 * It writes back into the output (so into the saved notebook) the id it
 * settled on and a transcript of the conversation (text/markdown, text/plain)
 * for readers without the extension.  While the panel's kernel side is alive
 * it follows it through the page-local bridge (bridge.js): Python's `ask()`
 * and trait changes reach this view, and the user's choices reach Python.
 */
import { Widget } from '@lumino/widgets';
import { VIEW_EVENT, WIDGET_EVENT, hear, tell } from './bridge.js';
import { NO_KERNEL, kernelAsker } from './context.js';
import { mountChat } from './mount.js';
import { onExplain } from './notebook.js';
import { composer } from './state.js';
import { transcript } from './transcript.js';
import './panel.css';

export const MIME_TYPE = 'application/vnd.jupyter.resumechat+json';
/** The side panel deleted a conversation: `{id}`.  Views showing it move on (no "not found"). */
export const DELETED_EVENT = 'resumechat:deleted';
/** What "Explain this error in the chat" sends, with the failed cell's error attached. */
export const EXPLAIN_PROMPT = 'Explain this error and how to fix it.';

/**
 * What the output's data says (never message text, never a secret).
 * @typedef {{conversation_id?: string, key?: string, title?: string, model?: string,
 *            bridge_id?: string, notebook?: boolean}} ChatData
 * @typedef {import('@jupyterlab/rendermime-interfaces').IRenderMime.IMimeModel} MimeModel
 * @typedef {import('@jupyterlab/rendermime-interfaces').IRenderMime.IRendererOptions} RendererOptions
 */

export class ChatRenderer extends Widget {
  /** @param {Pick<RendererOptions, 'mimeType'>} options */
  constructor(options) {
    super();
    this.mimeType = options.mimeType;
    this.addClass('rc-mime');
    /** @type {ChatData} */
    this.data = {};
    /** @type {MimeModel | null} */
    this.model = null;
    this.title.label = 'Chat';
    this.heading = 'Chat';
    this.written = '';
    /** @type {any[] | null} what the last transcript was made of */
    this.last = null;
    /** @type {import('./mount.js').MountedChat | null} */
    this.chat = null;
    /** @type {(() => void) | null} */
    this.unhear = null;
    /** @type {(() => void) | null} */
    this.unexplain = null;
    /** @type {(() => void) | null} */
    this.undeleted = null;
    this.kernelHeard = false; // the panel's kernel side answered in this page
    /** @type {import('./context.js').AskKernel} */
    this.asker = kernelAsker(
      (question) => this.toKernel({ ask: question }),
      (handler) => hear(WIDGET_EVENT, this.data.bridge_id || '', (message) => { if (message.answer) handler(message.answer); }),
    );
    /** the settings' default model (settings.js), sent while the output names none */
    this.started = '';
    /** the notebook's own conversation (`notebook: true`), which the switcher may come back to */
    this.own = '';
  }

  /** A question for the panel's kernel; none in this page (no kernel, or another's view): at once. @param {any} question */
  askKernel(question) {
    return this.kernelHeard ? this.asker(question) : Promise.reject(new Error(NO_KERNEL));
  }

  /** Called on first render and again whenever the output's data changes (our own writes too). @param {MimeModel} model */
  async renderModel(model) {
    this.model = model;
    const data = /** @type {ChatData} */ (model.data[this.mimeType] || {});
    if (!this.chat) this.start(data);
    else if (data.conversation_id && data.conversation_id !== this.data.conversation_id) this.adopt(data.conversation_id);
  }

  /** Show a conversation: from an output's data, or (the side panel) from an id alone. @param {ChatData} data */
  start(data) {
    this.data = { ...data };
    this.own = data.notebook ? data.conversation_id || '' : '';
    this.heading = data.title || 'Chat';
    const chat = mountChat(this.node, {
      conversationId: () => this.data.conversation_id || '',
      setConversationId: (id) => {
        if (id && this.data.notebook && !this.own) this.own = id; // the notebook's own chat, to mark it again
        this.data = { ...this.data, conversation_id: id, key: '' };
        this.toKernel({ conversation_id: id });
        this.save();
      },
      key: () => this.data.key || '',
      model: () => this.data.model || '',
    }, {
      askKernel: (question) => this.askKernel(question),
      onModel: (id) => { this.data = { ...this.data, model: id }; this.toKernel({ model: id }); this.save(); },
      onLeave: ({ id }) => {
        this.data = { ...this.data, key: '', notebook: !!this.own && id === this.own };
        this.toKernel({ conversation_key: '' });
      },
      onTitle: (title) => { this.heading = title || 'Chat'; this.save(); return this.heading; },
      onChange: () => this.save(),
      title: this.heading,
    });
    this.chat = chat;
    this.unhear = hear(WIDGET_EVENT, data.bridge_id || '', (message) => this.fromKernel(message));
    this.unexplain = onExplain(this.node, {
      own: () => !!this.data.notebook,
      ready: () => composer(chat.session.state).enabled,
      accept: (cellId) => {
        this.node.scrollIntoView({ block: 'nearest' });
        chat.session.send(EXPLAIN_PROMPT, [{ ref: `error:${cellId}`, label: 'the error', detail: '', kind: 'error' }]);
      },
    });
    /** An output showing a conversation deleted from the side panel starts a new one. @param {Event} event */
    const deleted = (event) => {
      if (!this.model || /** @type {CustomEvent} */ (event).detail?.id !== this.data.conversation_id) return;
      chat.show('', '');
    };
    window.addEventListener(DELETED_EVENT, deleted);
    this.undeleted = () => window.removeEventListener(DELETED_EVENT, deleted);
    if (data.bridge_id) tell(VIEW_EVENT, { bridge_id: data.bridge_id, hello: true });
  }

  /** The side panel opens another conversation in this chat. @param {string} id @param {string} title */
  showConversation(id, title) {
    if (this.data.conversation_id !== id) this.chat?.show(id, title);
  }

  /** The kernel side spoke: a Python `ask()` (refresh) or a trait Python set. @param {import('./bridge.js').BridgeMessage} message */
  fromKernel(message) {
    this.kernelHeard = true;
    if (message.answer) return; // for askKernel
    if (message.model !== undefined && message.model !== this.data.model) this.data = { ...this.data, model: message.model };
    if (message.conversation_id && message.conversation_id !== this.data.conversation_id) {
      this.adopt(message.conversation_id);
    } else if (message.conversation_id === '' && this.data.conversation_id) {
      this.toKernel({ conversation_id: this.data.conversation_id }); // a kernel that forgot (renamed notebook) learns it
    } else if (message.refresh) {
      this.chat?.session.load();
    }
  }

  /** Show another conversation. @param {string} id */
  adopt(id) {
    this.data = { ...this.data, conversation_id: id };
    this.written = '';
    this.chat?.session.restart();
  }

  /** @param {{conversation_id?: string, conversation_key?: string, model?: string, ask?: any}} traits */
  toKernel(traits) {
    if (this.data.bridge_id) tell(VIEW_EVENT, { bridge_id: this.data.bridge_id, ...traits });
  }

  /** Write the id and the transcript into the output, which is what the notebook saves. */
  save() {
    const session = this.chat?.session;
    const phase = session?.state.phase.kind;
    if (!this.model || !session || !this.data.conversation_id || phase === 'loading' || phase === 'failed') return;
    // Deltas do not change the committed messages: only a load or a final rewrites the transcript.
    const key = [session.state.messages, this.heading, this.data];
    if (this.last && key.every((part, i) => part === this.last?.[i])) return;
    this.last = key;
    const { markdown, plain } = transcript(this.heading, session.state.messages);
    const data = { ...this.data, title: this.heading };
    // What the output already holds is not written again: a notebook opened is not a notebook changed.
    const signature = JSON.stringify([data, markdown]);
    const held = JSON.stringify([this.model.data[this.mimeType], this.model.data['text/markdown']]);
    if (signature === this.written || signature === held) return;
    this.written = signature;
    this.model.setData({ data: { ...this.model.data, [this.mimeType]: data, 'text/markdown': markdown, 'text/plain': plain } });
  }

  dispose() {
    if (this.isDisposed) return;
    this.unhear?.();
    this.unexplain?.();
    this.undeleted?.();
    this.chat?.dispose();
    super.dispose();
  }
}

/** @type {import('@jupyterlab/rendermime-interfaces').IRenderMime.IExtension} */
const extension = {
  id: 'jupyter-resumechat:chat',
  // Before the widget view (ipywidgets ranks it -10): this view needs no kernel.
  rank: -20,
  dataType: 'json',
  rendererFactory: {
    // Not for untrusted notebooks: a downloaded file must not make logged-in requests for
    // a key of its choosing (and save that chat into itself); it shows its transcript instead.
    safe: false,
    mimeTypes: [MIME_TYPE],
    createRenderer: (options) => new ChatRenderer(options),
  },
};

export default extension;
