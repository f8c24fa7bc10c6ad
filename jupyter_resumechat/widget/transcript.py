"""What a saved notebook shows of a chat to readers without the extension.

A ChatPanel's output carries, next to the widget view, the conversation's id
(``application/vnd.jupyter.resumechat+json``, read by the kernel-free view)
and a transcript (``text/markdown``, ``text/plain``) that GitHub, nbviewer and
``jupyter nbconvert`` show. The transcript holds roles and message text only:
never a key, a token or the server's address. The browser view rewrites it in
the same format (js/transcript.js) as the conversation goes on, so a save
holds the conversation as of that save.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..models import Message

__all__ = ["MIME_TYPE", "saved_conversation_id", "transcript"]

MIME_TYPE = "application/vnd.jupyter.resumechat+json"
ROLES = {"user": "User", "assistant": "Assistant"}


def _inert(text: str) -> str:
    """Markdown that shows the text as written but runs no HTML and has no live
    link or image (a viewer such as GitHub would fetch an image's URL)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("[", "&#91;").replace("]", "&#93;")


def transcript(title: str, messages: Sequence[Message]) -> tuple[str, str]:
    """``(markdown, plain)`` of ``messages`` (oldest first), as js/transcript.js writes it."""
    shown = [m for m in messages if m.content and m.content.strip()]
    heading = f"{title or 'Chat'} (jupyter-resumechat transcript, {len(shown)} messages)"
    markdown, plain = [f"**{_inert(heading)}**"], [heading]
    for message in shown:
        role = str(getattr(message.role, "value", message.role))
        label = ROLES.get(role, role)
        markdown.append(f"**{label}:**\n\n{_inert(message.content.strip())}")
        plain.append(f"{label}: {message.content.strip()}")
    return "\n\n---\n\n".join(markdown) + "\n", "\n\n".join(plain) + "\n"


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
