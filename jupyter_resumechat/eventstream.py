"""The SSE wire format of DESIGN §3, both ways, with no I/O (sans-IO).

The server encodes with ``encode_event`` / ``encode_retry`` /
``encode_comment`` and reads a resume point with ``parse_last_id``; clients,
tests and benchmarks decode with ``decode_event`` (an SSE ``event``/``data``/
``id`` triple, as httpx-sse yields it) or ``decode_block`` (the raw bytes of
one event), and rebuild a reply with ``Reply`` (invariant 2.1).  Imports
neither tornado nor httpx, so it is tested byte for byte with strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .errors import InvalidRequest
from .models import Event, EventKind, Message

__all__ = [
    "HEARTBEAT_HEADER",
    "MAX_EVENT_ID",
    "SILENCE_FACTOR",
    "Reply",
    "StreamEvent",
    "decode_block",
    "decode_event",
    "encode_comment",
    "encode_event",
    "encode_retry",
    "parse_last_id",
]

HEARTBEAT_HEADER = "X-ResumeChat-Heartbeat"
"""Response header of the event stream: seconds between keepalive comments."""
SILENCE_FACTOR = 2.5
"""No byte for this many heartbeat intervals means the connection is dead (DESIGN §4.10)."""

MAX_EVENT_ID = 2**53 - 1


def encode_event(event: Event) -> bytes:
    """``id``, ``event`` and one ``data`` line (the JSON has no raw newlines)."""
    return f"id: {event.id}\nevent: {event.kind.value}\ndata: {event.data_json()}\n\n".encode()


def encode_retry(milliseconds: int) -> bytes:
    """The reconnection delay a browser's EventSource should use."""
    return f"retry: {milliseconds}\n\n".encode()


def encode_comment(text: str) -> bytes:
    """A comment line, ignored by clients; keeps proxies from closing the response."""
    return "".join(f": {line}\n" for line in text.splitlines() or [""]).encode() + b"\n"


def parse_last_id(header: str | None, query: str | None) -> int | None:
    """The last event id a client saw: the header wins over the query parameter.

    Raises ``InvalidRequest`` for anything but a non-negative integer.
    """
    raw = header if header not in (None, "") else query
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or int(raw) > MAX_EVENT_ID:
        raise InvalidRequest("Last-Event-ID / last_event_id must be a non-negative integer")
    return int(raw)


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
        return StreamEvent(
            seq,
            kind,
            content=payload["content"],
            reasoning=payload.get("reasoning", ""),
            status=payload.get("status", ""),
        )
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

    @classmethod
    def resuming(cls, content: str, last_id: int | None = None) -> Reply:
        """A reply already known up to ``content`` (a reader resuming with its text)."""
        return cls(content=content, last_id=last_id, _parts=[content])

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


def decode_block(block: bytes) -> StreamEvent | None:
    """One raw event block (the bytes between blank lines) as a StreamEvent;
    ``None`` for a block without data (a comment or ``retry``)."""
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in block.decode("utf-8").split("\n"):
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name in ("id", "event"):
            fields[name] = value
    if not data:
        return None
    return decode_event(fields.get("event", "message"), "\n".join(data), fields.get("id", ""))
