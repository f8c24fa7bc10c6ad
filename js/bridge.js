// @ts-check
/**
 * The page-local link between a ChatPanel's kernel side (its anywidget model)
 * and the kernel-free view that shows it (mime.js).  Both live in the same
 * page but in separate bundles, so they talk by DOM events on `window`, keyed
 * by the panel's `bridge_id` (a synced trait, also in the output's data).
 * Nothing here outlives the page; a view whose kernel is gone simply hears
 * nothing.
 */

/** From the kernel side: the model's traits, and `refresh` after a Python `ask()`. */
export const WIDGET_EVENT = 'resumechat:widget';
/** From a view: `hello` (answer with your traits), or traits the user changed. */
export const VIEW_EVENT = 'resumechat:view';

/**
 * `ask` (from a view) is a question for the kernel (context.js: variables,
 * their rendering); the kernel's reply comes back as `answer`.
 * @typedef {{bridge_id: string, conversation_id?: string, conversation_key?: string,
 *            model?: string, refresh?: boolean, hello?: boolean, ask?: any, answer?: any}} BridgeMessage
 */

/** @param {string} name @param {BridgeMessage} detail */
export function tell(name, detail) {
  window.dispatchEvent(new CustomEvent(name, { detail }));
}

/**
 * Listen for `name` messages about `bridgeId`; returns the function that stops listening.
 * @param {string} name @param {string} bridgeId @param {(message: BridgeMessage) => void} handler
 */
export function hear(name, bridgeId, handler) {
  const listener = (/** @type {Event} */ event) => {
    const detail = /** @type {CustomEvent<BridgeMessage>} */ (event).detail;
    if (bridgeId && detail && detail.bridge_id === bridgeId) handler(detail);
  };
  window.addEventListener(name, listener);
  return () => window.removeEventListener(name, listener);
}

/**
 * The kernel side of the bridge, run by anywidget's `initialize` once per
 * model (whether or not a widget view renders): tells the view the model's
 * traits and Python's refreshes, and applies what the view changed.
 * @param {any} model the anywidget model
 */
export function bridgeModel(model) {
  const id = () => model.get('bridge_id') || '';
  const traits = () => ({
    bridge_id: id(),
    conversation_id: model.get('conversation_id') || '',
    conversation_key: model.get('conversation_key') || '',
    model: model.get('model') || '',
  });
  const announce = () => tell(WIDGET_EVENT, traits());
  const onCustom = (/** @type {any} */ message) => {
    if (message && message.type === 'refresh') tell(WIDGET_EVENT, { ...traits(), refresh: true });
    else if (message && message.request) tell(WIDGET_EVENT, { bridge_id: id(), answer: message });
  };
  const stop = hear(VIEW_EVENT, id(), (message) => {
    if (message.hello) { announce(); return; }
    if (message.ask) { model.send(message.ask); return; }
    let changed = false;
    for (const name of /** @type {const} */ (['conversation_id', 'conversation_key', 'model'])) {
      const value = message[name];
      if (value !== undefined && value !== model.get(name)) { model.set(name, value); changed = true; }
    }
    if (changed) model.save_changes();
  });
  model.on('change:conversation_id', announce);
  model.on('change:model', announce);
  model.on('msg:custom', onCustom);
  announce();
  return () => {
    stop();
    model.off('change:conversation_id', announce);
    model.off('change:model', announce);
    model.off('msg:custom', onCustom);
  };
}
