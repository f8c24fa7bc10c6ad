// @ts-check
/**
 * The ChatPanel widget's view: wires the anywidget model (which conversation,
 * which model) to a ChatSession (server I/O, state) and a ChatView (DOM).
 * The session talks to the server directly (fetch + SSE), so a reply keeps
 * streaming while the kernel is busy, dead or restarting.  `render` returns a
 * cleanup that aborts every request.  In JupyterLab 4 and Notebook 7 the
 * kernel-free view (mime.js) is drawn instead, and `initialize` links this
 * model to it (bridge.js); see ARCHITECTURE.md.
 */
import { Api } from './api.js';
import { bridgeModel } from './bridge.js';
import { ContextSource, kernelAsker } from './context.js';
import { ChatSession, describe } from './session.js';
import { startingModel } from './settings.js';
import { ChatView } from './view.js';

// For the rendering benchmark (bench/panel_render.py).
export { LiveMarkdown, renderMarkdown } from './markdown.js';

/** @param {{model: any, el: HTMLElement}} context */
function render({ model, el }) {
  const api = Api.fromPage();
  const askKernel = kernelAsker((question) => model.send(question), (handler) => {
    model.on('msg:custom', handler);
    return () => model.off('msg:custom', handler);
  });
  const context = new ContextSource(api, el, askKernel);
  let started = ''; // the settings' default model, when the panel names none
  /** @type {import('./session.js').Host} */
  const host = {
    conversationId: () => model.get('conversation_id') || '',
    setConversationId: (id) => { model.set('conversation_id', id); model.save_changes(); },
    key: () => model.get('conversation_key') || '',
    model: () => model.get('model') || started,
    context,
  };
  const view = new ChatView(el, {
    onSend: async (text, attached) => { if (await session.send(text, attached)) view.clearDraft(text, attached); },
    onMention: (query) => context.candidates(query),
    onInsert: context.canInsert() ? (code) => { context.insertBelow(code); } : undefined,
    onStop: () => session.stop(),
    onReply: (action, id) => session.again(action, id),
    onDismiss: () => session.dismiss(),
    onModel: (id) => { model.set('model', id); model.save_changes(); },
    onNew: async () => {
      try {
        const made = await api.conversation({}, session.signal);
        model.set('conversation_key', '');
        model.set('title', made.title || ''); // not the previous conversation's title
        view.setTitle(made.title);
        host.setConversationId(made.id);
      } catch (error) { session.dispatch({ type: 'notice', detail: describe(error) }); }
    },
    onHistory: async () => view.showConversations(await session.recent()),
    onSwitch: (id) => { model.set('conversation_key', ''); host.setConversationId(id); },
  });
  const session = new ChatSession(api, host, (state) => view.update(state), {
    onTitle: (title) => view.setTitle(title || model.get('title')),
  });

  const onConversation = () => { if (host.conversationId() !== session.known) session.restart(); };
  const onCustom = (/** @type {any} */ message) => { if (message && message.type === 'refresh') session.load(); };
  model.on('change:conversation_id', onConversation);
  model.on('msg:custom', onCustom);
  view.setTitle(model.get('title'));
  view.update(session.state);
  api.models(session.signal).then(
    (models) => {
      started = startingModel('', models.models.map((/** @type {any} */ m) => m.id), '');
      view.setModels(models.models, model.get('model') || started || models.default);
    },
    () => { /* the picker stays hidden; sending uses the server's default */ },
  );
  session.load();

  return () => {
    session.dispose();
    model.off('change:conversation_id', onConversation);
    model.off('msg:custom', onCustom);
    view.destroy();
  };
}

/**
 * Once per model, view or not: the bridge to a kernel-free view (mime.js) of
 * this panel, which JupyterLab and Notebook 7 prefer to the widget view.
 * @param {{model: any}} context
 */
function initialize({ model }) {
  return bridgeModel(model);
}

export default { initialize, render };
