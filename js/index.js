// @ts-check
/**
 * The ChatPanel widget's view: the anywidget model (which conversation, which
 * model) as the host of a chat mounted by mount.js (session, view, context).
 * The session talks to the server directly (fetch + SSE), so a reply keeps
 * streaming while the kernel is busy, dead or restarting.  `render` returns a
 * cleanup that aborts every request.  In JupyterLab 4 and Notebook 7 the
 * kernel-free view (mime.js) is drawn instead, and `initialize` links this
 * model to it (bridge.js); see ARCHITECTURE.md.
 */
import { bridgeModel } from './bridge.js';
import { kernelAsker } from './context.js';
import { mountChat } from './mount.js';

// For the rendering benchmark (bench/panel_render.py).
export { LiveMarkdown } from './livemarkdown.js';
export { renderMarkdown } from './markdown.js';

/**
 * A page with no JupyterLab theme (another front end) gets panel-fallback.css's values for the
 * --jp-* variables panel.css uses; a JupyterLab page keeps its theme's (light, dark, high contrast).
 */
function markUnthemed() {
  const root = document.documentElement;
  if (!getComputedStyle(root).getPropertyValue('--jp-layout-color1').trim()) root.classList.add('rc-unthemed');
}

/** @param {{model: any, el: HTMLElement}} context */
function render({ model, el }) {
  markUnthemed();
  const chat = mountChat(el, {
    conversationId: () => model.get('conversation_id') || '',
    setConversationId: (id) => { model.set('conversation_id', id); model.save_changes(); },
    key: () => model.get('conversation_key') || '',
    model: () => model.get('model') || '',
  }, {
    askKernel: kernelAsker((question) => model.send(question), (handler) => {
      model.on('msg:custom', handler);
      return () => model.off('msg:custom', handler);
    }),
    onModel: (id) => { model.set('model', id); model.save_changes(); },
    onLeave: ({ title }) => {
      model.set('conversation_key', '');
      if (title !== null) model.set('title', title); // not the previous conversation's title
    },
    onTitle: (title) => title || model.get('title'),
    title: model.get('title'),
  });
  const onConversation = () => chat.follow();
  const onCustom = (/** @type {any} */ message) => { if (message && message.type === 'refresh') chat.session.load(); };
  model.on('change:conversation_id', onConversation);
  model.on('msg:custom', onCustom);

  return () => {
    model.off('change:conversation_id', onConversation);
    model.off('msg:custom', onCustom);
    chat.dispose();
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
