// @ts-check
/**
 * The transcript a saved notebook carries for readers without the extension
 * (GitHub, nbviewer, nbconvert): roles and message text only, never a key, a
 * token or the server's address.  Pure; the Python side writes the same
 * format at display time (jupyter_resumechat/widget/transcript.py).
 */

const ROLES = { user: 'User', assistant: 'Assistant' };

/**
 * Markdown that shows the text as written but runs no HTML and has no live
 * link or image (a viewer such as GitHub would fetch an image's URL).
 * @param {string} text
 */
function inert(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\[/g, '&#91;').replace(/\]/g, '&#93;');
}

/**
 * @param {string} title
 * @param {{role: string, content: string}[]} messages oldest first
 * @returns {{markdown: string, plain: string}}
 */
export function transcript(title, messages) {
  const shown = messages.filter((m) => m.content && m.content.trim());
  const heading = `${title || 'Chat'} (jupyter-resumechat transcript, ${shown.length} messages)`;
  const md = [`**${inert(heading)}**`];
  const plain = [heading];
  for (const message of shown) {
    const role = ROLES[/** @type {'user' | 'assistant'} */ (message.role)] || message.role;
    md.push(`**${role}:**\n\n${inert(message.content.trim())}`);
    plain.push(`${role}: ${message.content.trim()}`);
  }
  return { markdown: md.join('\n\n---\n\n') + '\n', plain: plain.join('\n\n') + '\n' };
}
