"""Typed stream events and their decoding from SSE (pure, no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..models import EventKind, Message

__all__ = ["Reply", "StreamEvent", "decode_event"]


@dataclass(frozen=True)
class StreamEvent:
    """One event of a stream.

    ``snapshot``: ``content``/``reasoning`` replace what came before;
    ``delta``: ``text``/``reasoning`` are appended; ``final``: ``message`` is
    the committed message (also when the stream had expired and the client
    reloaded it: then ``reloaded`` is true).
    """

    id: int
    kind: EventKind
    text: str = ""
    reasoning: str = ""
    content: str = ""
    status: str = ""
    message: Message | None = None
    reloaded: bool = False


def decode_event(event: str, data: str, event_id: str) -> StreamEvent:
    """An SSE ``event``/``data``/``id`` triple as a StreamEvent; ValueError if malformed."""
    kind = EventKind(event)
    payload = json.loads(data)
    seq = int(event_id)
    if kind is EventKind.DELTA:
        return StreamEvent(seq, kind, text=payload.get("text", ""), reasoning=payload.get("reasoning", ""))
    if kind is EventKind.SNAPSHOT:
        return StreamEvent(seq, kind, content=payload["content"], reasoning=payload.get("reasoning", ""),
                           status=payload.get("status", ""))
    message = Message.from_json(payload["message"])
    return StreamEvent(seq, kind, content=message.content, status=message.status.value, message=message)


@dataclass
class Reply:
    """The text of a reply rebuilt from events (DESIGN §2.1)."""

    content: str = ""
    reasoning: str = ""
    last_id: int | None = None
    message: Message | None = None
    _parts: list[str] = field(default_factory=list, repr=False)

    def apply(self, event: StreamEvent) -> None:
        if event.kind is EventKind.SNAPSHOT:
            self._parts = [event.content]
            self.reasoning = event.reasoning
        elif event.kind is EventKind.DELTA:
            self._parts.append(event.text)
            self.reasoning += event.reasoning
        else:
            self.message = event.message
            self._parts = [event.content]
        self.content = "".join(self._parts)
        self._parts = [self.content]
        self.last_id = event.id
