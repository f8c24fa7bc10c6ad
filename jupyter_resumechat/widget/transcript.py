"""What a saved notebook shows of a chat to readers without the extension.

A ChatPanel's output carries, next to the widget view, the conversation's id
(``application/vnd.jupyter.resumechat+json``, read by the kernel-free view)
and a transcript (``text/markdown``, ``text/plain``) that GitHub, nbviewer and
``jupyter nbconvert`` show. The transcript holds roles and message text only:
never a key, a token or the server's address.  It is inert: no HTML, no
image, no live link, and each message's lines are quoted (indented in the
plain form), so a reply cannot forge a turn. The browser view rewrites it in
the same format (js/transcript.js) as the conversation goes on, so a save
holds the conversation as of that save.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..models import Message

__all__ = ["MIME_TYPE", "saved_conversation_id", "transcript"]

MIME_TYPE = "application/vnd.jupyter.resumechat+json"
ROLES = {"user": "User", "assistant": "Assistant"}


# What a viewer could turn into a live link: a URL with a scheme, a www. host, an
# e-mail address.  js/transcript.js has the same expressions.
_LINKABLE = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^ \t\r\n<>]*|www\.[^ \t\r\n<>]*|[^ \t\r\n<>@]*@[^ \t\r\n<>]*"
)
_LINK_JOINTS = re.compile(r"[.:@]")
_NO_LINK = "\u200b"  # a zero-width space: invisible, also in code, but no link spans it
_LINE_ENDS = re.compile(r"\r\n|\r|\n")


def _inert(text: str) -> str:
    """Markdown that shows the text as written but runs no HTML and has no live
    link or image (a viewer such as GitHub would fetch an image's URL): a
    zero-width space after each ``.``, ``:`` and ``@`` of a URL or an address
    stops every viewer's autolinking (GitHub's, marked's, mistune's, linkify's)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace("[", "&#91;").replace("]", "&#93;")
    return _LINKABLE.sub(lambda span: _LINK_JOINTS.sub(r"\g<0>" + _NO_LINK, span.group()), text)


def _quoted(text: str) -> str:
    """Every line of a message inside one block quote, so nothing it holds (a rule,
    a bold ``User:``) can pass for a turn of the transcript."""
    return "\n".join(f"> {line}" if line else ">" for line in _LINE_ENDS.split(text))


def _indented(label: str, text: str) -> str:
    """The plain form: the label, then the message's later lines indented."""
    return f"{label}: " + "\n  ".join(_LINE_ENDS.split(text))


def transcript(title: str, messages: Sequence[Message]) -> tuple[str, str]:
    """``(markdown, plain)`` of ``messages`` (oldest first), as js/transcript.js writes it."""
    shown = [m for m in messages if m.content and m.content.strip()]
    heading = f"{title or 'Chat'} (jupyter-resumechat transcript, {len(shown)} messages)"
    markdown, plain = [f"**{_inert(_oneline(heading))}**"], [_oneline(heading)]
    for message in shown:
        role = str(getattr(message.role, "value", message.role))
        label = ROLES.get(role, role)
        markdown.append(f"**{label}:**\n\n{_quoted(_inert(message.content.strip()))}")
        plain.append(_indented(label, message.content.strip()))
    return "\n\n---\n\n".join(markdown) + "\n", "\n\n".join(plain) + "\n"


def _oneline(text: str) -> str:
    """A title on one line: a newline in it could start a turn of its own."""
    return " ".join(_LINE_ENDS.split(text))


def _outputs(notebook: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for cell in notebook.get("cells") or []:
        yield from cell.get("outputs") or []


def saved_conversation_id(notebook: dict[str, Any]) -> str | None:
    """The id of the notebook's own chat as its saved outputs hold it (the first
    panel made by a plain ``ChatPanel()``), which survives a rename or a move."""
    for output in _outputs(notebook):
        data = (output.get("data") or {}).get(MIME_TYPE)
        if isinstance(data, dict) and data.get("notebook") and data.get("conversation_id"):
            return str(data["conversation_id"])
    return None
