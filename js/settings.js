// @ts-check
/**
 * The user's chat settings, from JupyterLab's Settings Editor (the schema in
 * `schema/conversations.json`): whether Enter or Ctrl/Cmd+Enter sends, the
 * model a chat starts with, and whether a chat starts in agent mode.  The extension publishes them on `window`
 * (versioned name) because the widget's bundle and the extension's are
 * separate module instances; both views read them through `chatSettings()`,
 * at each use, so a change in the editor applies at once.  Without the
 * extension (another front end) the defaults apply.
 */
export const SERVICE = 'jupyterResumechatSettings1';
/** Sent on `window` when the settings were loaded or changed. */
export const CHANGED_EVENT = 'resumechat:settings';

/**
 * @typedef {{sendWith: 'Enter' | 'Ctrl+Enter', defaultModel: string, agentMode: boolean}} ChatSettings
 *   `agentMode`: whether a conversation never switched in this browser starts in agent mode (agentmode.js).
 */

/** @type {ChatSettings} */
export const DEFAULTS = Object.freeze({ sendWith: 'Enter', defaultModel: '', agentMode: false });

/**
 * The settings as read from the registry's composite, with a default for
 * anything missing or of the wrong type.
 * @param {any} composite @returns {ChatSettings}
 */
export function readSettings(composite) {
  const value = composite || {};
  return {
    sendWith: value.sendWith === 'Ctrl+Enter' ? 'Ctrl+Enter' : 'Enter',
    defaultModel: typeof value.defaultModel === 'string' ? value.defaultModel.trim() : '',
    agentMode: value.agentMode === true,
  };
}

/** @returns {ChatSettings} */
export function chatSettings() {
  return /** @type {any} */ (window)[SERVICE] || DEFAULTS;
}

/**
 * Does this key send the message?  Enter sends (Ctrl/Cmd+Enter too) unless the
 * setting says Ctrl/Cmd+Enter, where a plain Enter is a new line.  Shift+Enter
 * is always a new line.
 * @param {{key: string, shiftKey: boolean, altKey: boolean, ctrlKey: boolean, metaKey: boolean, isComposing: boolean}} event
 * @param {ChatSettings['sendWith']} sendWith
 */
export function sends(event, sendWith) {
  if (event.key !== 'Enter' || event.shiftKey || event.altKey || event.isComposing) return false;
  return sendWith === 'Enter' || event.ctrlKey || event.metaKey;
}

/**
 * The model a chat starts with: the one it names, else the setting's if the
 * server offers it, else the server's default.
 * @param {string} named @param {string[]} offered @param {string} serverDefault
 */
export function startingModel(named, offered, serverDefault) {
  if (named) return named;
  const wanted = chatSettings().defaultModel;
  return wanted && offered.includes(wanted) ? wanted : serverDefault;
}
