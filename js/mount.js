// @ts-check
/**
 * One way to show a chat in an element: the wiring of a ChatSession (server
 * I/O, state), a ChatView (DOM) and a ContextSource (what a message can
 * attach), shared by every surface that shows one — the widget view
 * (index.js), the kernel-free output view (mime.js) and the chats the side
 * panel opens (conversations.js, through mime.js's ChatRenderer).  A surface
 * says which conversation it shows (`ChatHost`) and how it keeps what the
 * user changed (`MountHooks`); the rest is here, once.
 */
import { storeAgentMode, storedAgentMode } from './agentmode.js';
import { Api } from './api.js';
import { ContextSource } from './context.js';
import { notebookService } from './notebook.js';
import { PageCalls } from './pagecalls.js';
import { ChatSession, describe } from './session.js';
import { chatSettings, startingModel } from './settings.js';
import { ChatView } from './view.js';

/**
 * Which conversation a surface shows and which model it names.
 * @typedef {{conversationId: () => string, setConversationId: (id: string) => void,
 *            key: () => string, model: () => string}} ChatHost
 *   `model()` is '' when the surface names none (the settings' default, else the server's, is used).
 */
/**
 * How a surface keeps what the user did; every hook is optional.
 * @typedef {{
 *   askKernel?: import('./context.js').AskKernel | null,
 *   onModel?: (id: string) => void,
 *   onLeave?: (next: {id: string, title: string | null}) => void,
 *   onTitle?: (title: string) => string,
 *   onChange?: (state: import('./state.js').State) => void,
 *   title?: string,
 * }} MountHooks
 *   `askKernel`: questions for the panel's kernel side (variables); null or absent: none.
 *   `onModel`: the user picked a model in the header.
 *   `onLeave`: the view is about to show another conversation (`title` is the new one's when known,
 *     null when the server will say): forget what named the old one (a key, "the notebook's own").
 *   `onTitle`: the conversation's title as the server says it ('' for none); returns what to show.
 *   `onChange`: after each redraw from a new state.
 *   `title`: what the header shows until the server says.
 */
/**
 * @typedef {{session: ChatSession, view: ChatView, context: ContextSource,
 *            show: (id: string, title?: string | null) => void, follow: () => void,
 *            dispose: () => void}} MountedChat
 *   `show(id, title)`: show another conversation ('' for a new one by the host's key, or none).
 *   `follow()`: the host's conversation changed under it (a synced trait): restart if it is another.
 *   `dispose()`: abort every request, remove every listener and the view's DOM.
 */

/**
 * Show a chat in `el` and start loading it.
 * @param {HTMLElement} el @param {ChatHost} host @param {MountHooks} [hooks]
 * @returns {MountedChat}
 */
export function mountChat(el, host, hooks = {}) {
  const api = Api.fromPage();
  const context = new ContextSource(api, el, hooks.askKernel || null);
  let started = ''; // the settings' default model, while the host names none
  const titled = (/** @type {string} */ title) => (hooks.onTitle ? hooks.onTitle(title) : title);
  const lifetime = new AbortController();
  // the page tools of the notebook this view is in (never another's), or why there are none
  const calls = new PageCalls(api, () => notebookService()?.pageTools?.(el) ?? 'this page cannot reach a notebook', lifetime.signal);
  const storage = (() => { try { return window.localStorage; } catch (_) { return null; } })();
  let agentShown = ''; // the conversation whose agent mode the toggle shows
  const agentOn = () => storedAgentMode(storage, host.conversationId(), chatSettings().agentMode);

  /** @param {string} id @param {string | null} [title] */
  const show = (id, title = null) => {
    hooks.onLeave?.({ id, title });
    const before = session.request;
    host.setConversationId(id); // a host whose change listener calls follow() restarts here
    if (session.request === before) session.restart();
    if (title !== null) view.setTitle(titled(title)); // after the restart: the old messages are gone
  };
  const view = new ChatView(el, {
    onSend: async (text, attached) => { if (await session.send(text, attached)) view.clearDraft(text, attached); },
    onMention: (query) => context.candidates(query),
    onInsert: context.canInsert() ? (code) => { context.insertBelow(code); } : undefined,
    onStop: () => { calls.interrupt(); session.stop(); }, // a cell this page runs for the run stops too
    onReply: (action, id) => {
      if (action !== 'revert') { session.again(action, id); return; }
      const message = session.state.messages.find((m) => m.id === id);
      const failed = message ? calls.revert(message) : [];
      if (failed.length) session.dispatch({ type: 'notice', detail: `Revert left some edits: ${failed.join('; ')}` });
      view.update(session.state); // its button goes once nothing is left to take back
    },
    canRevert: (message) => calls.revertible(message).length > 0,
    onDismiss: () => session.dismiss(),
    onModel: (id) => hooks.onModel?.(id),
    onNew: async () => {
      try {
        const made = await api.conversation({}, session.signal);
        show(made.id, made.title || '');
      } catch (error) { session.dispatch({ type: 'notice', detail: describe(error) }); }
    },
    onHistory: async () => view.showConversations(await session.recent()),
    onSwitch: (id) => show(id),
    onDecide: (sid, callId, decision) => {
      if (decision.decision === 'approve') calls.own(callId); // approved here: run here
      return session.decide(sid, callId, decision);
    },
    onRunAgain: (call) => { session.runAgain(call); },
    cellSource: (cellId) => context.cellSource(cellId),
    clientId: calls.clientId,
    onAgent: (on) => storeAgentMode(storage, host.conversationId(), on),
    onTools: async () => (await api.tools(host.conversationId(), session.signal)).tools,
  });
  /** @type {import('./session.js').Host} */
  const sessionHost = { ...host, model: () => host.model() || started, context, agent: () => view.agent.on };
  const session = new ChatSession(api, sessionHost, (state) => {
    if (agentShown !== host.conversationId()) { agentShown = host.conversationId(); view.agent.set(agentOn()); }
    view.update(state);
    calls.observe(state);
    hooks.onChange?.(state);
  }, {
    onTitle: (title) => view.setTitle(titled(title)),
    onStarted: (result) => { if (result.assistant_message) calls.own(result.assistant_message.id); },
  });

  view.setTitle(hooks.title || 'Chat');
  view.update(session.state);
  api.models(session.signal).then(
    (models) => {
      started = startingModel('', models.models.map((/** @type {any} */ m) => m.id), '');
      view.setModels(models.models, host.model() || started || models.default);
    },
    () => { /* the picker stays hidden; sending uses the server's default */ },
  );
  session.load();

  return {
    session,
    view,
    context,
    show,
    follow: () => { if (host.conversationId() !== session.known) session.restart(); },
    dispose: () => { lifetime.abort(); session.dispose(); view.destroy(); },
  };
}
