"""The Python side of the chat panel: synced identity, and a thin Python API.

The browser view does the streaming (fetch + SSE to the server extension),
so a reply keeps arriving while this kernel is busy, dead or restarting. The
kernel owns only the conversation's identity: by default the notebook's path,
so re-running the cell after a restart finds the same conversation.

The panel's output carries, beside the widget view, the conversation's id for
the kernel-free view (JupyterLab / Notebook 7 extension) and a transcript
(transcript.py); a notebook renamed or moved finds its chat again by the id
its saved output holds.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..client import SyncClient
from ..errors import ResumeChatError
from ..models import Message, ToolCall
from .context import ContextError, render_all, variables
from .shell import user_namespace
from .transcript import MIME_TYPE, saved_conversation_id, transcript

__all__ = ["ChatPanel", "notebook_key"]

STATIC = Path(__file__).parent / "static"


def notebook_key() -> str | None:
    """The notebook's path, as the kernel knows it (``__session__``, ``JPY_SESSION_NAME``)."""
    namespace = user_namespace()
    session = namespace.get("__session__") if namespace is not None else None
    return session or os.environ.get("JPY_SESSION_NAME") or None


class ChatPanel(anywidget.AnyWidget):
    """A chat with the server's model that survives tab reloads and kernel restarts.

    ``ChatPanel()`` is the notebook's own conversation; ``ChatPanel("name")`` a
    named one; ``ChatPanel(conversation_id=...)`` an existing one;
    ``ChatPanel(new=True)`` a fresh one.
    """

    _esm = STATIC / "panel.js"
    _css = STATIC / "panel.css"

    conversation_key = traitlets.Unicode("").tag(sync=True)
    conversation_id = traitlets.Unicode("").tag(sync=True)
    title = traitlets.Unicode("Chat").tag(sync=True)
    model = traitlets.Unicode("").tag(sync=True)
    # Names this panel to its kernel-free view in the page (js/bridge.js).
    bridge_id = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        name: str | None = None,
        *,
        conversation_id: str | None = None,
        new: bool = False,
        title: str | None = None,
        model: str | None = None,
        client: SyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        key = "" if (new or conversation_id) else (name or notebook_key() or "")
        super().__init__(
            conversation_key=key,
            conversation_id=conversation_id or "",
            title=title or (name or "Chat"),
            model=model or "",
            bridge_id=uuid.uuid4().hex,
            **kwargs,
        )
        self._client = client
        self.on_msg(self._answer_view)
        # The notebook's own chat: keyed by its path until its saved output holds the id.
        self._notebook_chat = not (name or new or conversation_id) and bool(key)
        if new:
            self.conversation_id = self.client.create_conversation(title=title).id

    @property
    def client(self) -> SyncClient:
        """The Python client of the server that started this kernel (found on first use)."""
        if self._client is None:
            self._client = SyncClient.from_kernel()
        return self._client

    def _ensure_conversation(self) -> str:
        if not self.conversation_id and self._notebook_chat:
            self.conversation_id = self._saved_id() or ""
        if not self.conversation_id:
            made = self.client.create_conversation(key=self.conversation_key or None)
            self.conversation_id = made.id
        return self.conversation_id

    def _saved_id(self) -> str | None:
        """The id the saved notebook's output holds: a renamed notebook's path is a
        new key, but its saved chat is the same conversation. A local kernel knows
        the file's absolute path (``__session__``) and reads it; a relative path
        is asked of the server's contents API."""
        path = Path(self.conversation_key)
        try:
            if path.is_absolute():
                saved = saved_conversation_id(json.loads(path.read_text(encoding="utf-8")))
            else:
                saved = saved_conversation_id(self.client.saved_notebook(self.conversation_key))
            if saved:
                self.client.get_conversation(saved)  # deleted, or from another server: NotFound
            return saved
        except (OSError, ValueError, ResumeChatError):  # not saved, not a notebook, unreachable, gone
            return None

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The widget view, and for the kernel-free view and readers without the
        extension: the conversation's id and a transcript (never a secret)."""
        widget = super()._repr_mimebundle_(**kwargs)
        bundle, metadata = (dict(widget[0]), dict(widget[1])) if widget else ({}, {})
        shown: list[Message] = []
        try:
            shown = self.client.messages(self._ensure_conversation())
        except ResumeChatError:  # no server from here: the view gets or creates it by its key
            pass
        bundle[MIME_TYPE] = {
            "conversation_id": self.conversation_id,
            # The key (a local path) only while there is no id: a shared notebook need not show it.
            "key": "" if self.conversation_id else self.conversation_key,
            "title": self.title,
            "model": self.model,
            "bridge_id": self.bridge_id,
            "notebook": self._notebook_chat,
        }
        bundle["text/markdown"], bundle["text/plain"] = transcript(self.title, shown)
        return bundle, metadata

    @property
    def messages(self) -> list[Message]:
        """The conversation's messages, oldest first (a streaming reply shows its text so far)."""
        return self.client.messages(self._ensure_conversation())

    def ask(
        self, text: str, *, model: str | None = None, context: Any = (), tools: str | list[str] | None = None
    ) -> str:
        """Send ``text`` with ``context`` attached (an item or a list of them: variables, ``"cell:3"``,
        ``"error"``, ``"file:name"``; see ``context.py``); the panel shows the reply
        as it streams.  ``tools`` (``"all"`` or names) lets the reply call tools;
        ``pending()`` lists what waits for you.  Returns the stream id.  Raises
        ContextError for a reference that names nothing."""
        if isinstance(context, str) or not isinstance(context, (list, tuple)):
            context = [context]  # one item, not an iterable of items (a DataFrame iterates its columns)
        items, problems = render_all(context)
        if problems:
            raise ContextError("; ".join(problems))
        sent = self.client.send(
            self._ensure_conversation(), text, model=model or self.model or None, context=items, tools=tools
        )
        super().send({"type": "refresh"})  # the view re-reads the status and attaches
        self._last_stream = sent.stream_id
        return sent.stream_id

    def send(self, content: Any, buffers: Any = None, *, model: str | None = None, context: Any = ()) -> Any:
        """ipywidgets' ``send`` (a dict to the view, as ``focus()`` uses it); a
        string is a chat message, as ``ask`` (kept for notebooks that call it so)."""
        if isinstance(content, str):
            return self.ask(content, model=model, context=context)
        return super().send(content, buffers)

    def _answer_view(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """The view's questions to the kernel: which variables there are (``@``
        completion) and what the mentioned ones hold, at send time.  Over a kernel
        subshell (JupyterLab 4.6, ipykernel 7) this runs while a cell does; a kernel
        that cannot answer within 3 s is sent without, and the view says so."""
        if not isinstance(content, dict) or content.get("type") not in ("variables", "context"):
            return
        answer: dict[str, Any] = {"type": content["type"], "request": content.get("request")}
        try:
            if content["type"] == "variables":
                answer["variables"] = variables()
            else:  # the view asks only for variables; files and cells it reads itself
                refs = [str(ref) for ref in content.get("refs") or [] if str(ref).startswith("var:")][:20]
                items, problems = render_all(refs)
                answer["items"], answer["problems"] = [item.to_json() for item in items], problems
        except Exception as exc:  # always answer: silence would read as a busy kernel
            answer.update(variables=[], items=[], problems=[f"the kernel could not render it: {exc!r}"[:300]])
        super().send(answer)

    def pending(self) -> list[ToolCall]:
        """The calls of the running reply that wait for a decision (or a page)."""
        return [call for _, call in self.client.pending(self._ensure_conversation())]

    def approve(self, call_id: str, *, always: bool = False) -> ToolCall:
        """Approve a waiting call (``always``: this tool, for this conversation); the run goes on."""
        return self.client.approve(self._stream_of(call_id), call_id, always=always)

    def deny(self, call_id: str, note: str | None = None) -> ToolCall:
        """Deny a waiting call; the model is told (with ``note``)."""
        return self.client.deny(self._stream_of(call_id), call_id, note)

    def _stream_of(self, call_id: str) -> str:
        for stream_id, call in self.client.pending(self._ensure_conversation()):
            if call.id == call_id:
                return stream_id
        return getattr(self, "_last_stream", None) or "-"  # the server finds a call by its id

    def wait(self, stream_id: str | None = None) -> Message:
        """Block until the reply is committed and return it."""
        sid = stream_id or getattr(self, "_last_stream", None)
        if sid is None:
            status = self.client.stream_status(self._ensure_conversation())
            if not status.active or status.stream_id is None:
                return self.messages[-1]
            sid = status.stream_id
        return self.client.wait(sid, conversation_id=self.conversation_id)
