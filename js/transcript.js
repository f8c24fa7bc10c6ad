// @ts-check
/**
 * The transcript a saved notebook carries for readers without the extension
 * (GitHub, nbviewer, nbconvert): roles and message text only, never a key, a
 * token or the server's address.  Inert: no HTML, no image, no live link, and
 * each message's lines quoted (indented in the plain form), so a reply cannot
 * forge a turn.  Pure; the Python side writes the same
 * format at display time (jupyter_resumechat/widget/transcript.py).
 */

const ROLES = { user: 'User', assistant: 'Assistant' };

// What a viewer could turn into a live link: a URL with a scheme, a www. host, an
// e-mail address (jupyter_resumechat/widget/transcript.py has the same expressions).
const LINKABLE = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^ \t\r\n<>]*|www\.[^ \t\r\n<>]*|[^ \t\r\n<>@]*@[^ \t\r\n<>]*/g;
const LINK_JOINTS = /[.:@]/g;
const NO_LINK = '\u200b'; // a zero-width space: invisible, also in code, but no link spans it
const LINE_ENDS = /\r\n|\r|\n/;

/**
 * Markdown that shows the text as written but runs no HTML and has no live
 * link or image (a viewer such as GitHub would fetch an image's URL): a
 * zero-width space after each `.`, `:` and `@` of a URL or an address stops
 * every viewer's autolinking (GitHub's, marked's, mistune's, linkify's).
 * @param {string} text
 */
function inert(text) {
  const escaped = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\[/g, '&#91;').replace(/\]/g, '&#93;');
  return escaped.replace(LINKABLE, (span) => span.replace(LINK_JOINTS, (joint) => joint + NO_LINK));
}

/**
 * Every line of a message inside one block quote, so nothing it holds (a rule,
 * a bold `User:`) can pass for a turn of the transcript.
 * @param {string} text
 */
function quoted(text) {
  return text.split(LINE_ENDS).map((line) => (line ? `> ${line}` : '>')).join('\n');
}

/**
 * The plain form: the label, then the message's later lines indented.
 * @param {string} label
 * @param {string} text
 */
function indented(label, text) {
  return `${label}: ` + text.split(LINE_ENDS).join('\n  ');
}

/**
 * A title on one line: a newline in it could start a turn of its own.
 * @param {string} text
 */
function oneline(text) {
  return text.split(LINE_ENDS).join(' ');
}

/**
 * @param {string} title
 * @param {{role: string, content: string}[]} messages oldest first
 * @returns {{markdown: string, plain: string}}
 */
export function transcript(title, messages) {
  const shown = messages.filter((m) => m.content && m.content.trim());
  const heading = oneline(`${title || 'Chat'} (jupyter-resumechat transcript, ${shown.length} messages)`);
  const md = [`**${inert(heading)}**`];
  const plain = [heading];
  for (const message of shown) {
    const role = ROLES[/** @type {'user' | 'assistant'} */ (message.role)] || message.role;
    md.push(`**${role}:**\n\n${quoted(inert(message.content.trim()))}`);
    plain.push(indented(role, message.content.trim()));
  }
  return { markdown: md.join('\n\n---\n\n') + '\n', plain: plain.join('\n\n') + '\n' };
}
