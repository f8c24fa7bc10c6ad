"""The SSE wire format of docs/protocol.md#event-stream, both ways, with no I/O (sans-IO).

The server encodes with ``encode_event`` / ``encode_retry`` /
``encode_comment`` and reads a resume point with ``parse_last_id``; clients,
tests and benchmarks decode with ``decode_event`` (an SSE ``event``/``data``/
``id`` triple, as httpx-sse yields it) or ``decode_block`` (the raw bytes of
one event), and rebuild a reply with ``Reply`` (invariant 2.1).  Imports
neither tornado nor httpx, so it is tested byte for byte with strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest
from .models import Event, EventKind, Message, ToolCall

__all__ = [
    "HEARTBEAT_HEADER",
    "MAX_EVENT_ID",
    "MAX_STREAMS",
    "SILENCE_FACTOR",
    "Reply",
    "StreamEvent",
    "decode_block",
    "decode_event",
    "encode_comment",
    "encode_event",
    "encode_gone",
    "encode_retry",
    "parse_last_id",
    "parse_positions",
    "pieces",
    "split_tagged_id",
    "tag_events",
    "tagged_pieces",
]

HEARTBEAT_HEADER = "X-ResumeChat-Heartbeat"
"""Response header of the event stream: seconds between keepalive comments."""
SILENCE_FACTOR = 2.5
"""No byte for this many heartbeat intervals means the connection is dead (docs/protocol.md#silence)."""

MAX_EVENT_ID = 2**53 - 1
MAX_STREAMS = 64
"""Streams one multiplexed connection may read (``GET streams/events``); more is a 400."""
_STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encode_event(event: Event, stream_id: str = "") -> bytes:
    """``id``, ``event`` and one ``data`` line (the JSON has no raw newlines).

    With a ``stream_id`` (the multiplexed endpoint) the id is ``<stream_id>:<seq>``.
    """
    tag = f"{stream_id}:" if stream_id else ""
    return f"id: {tag}{event.id}\nevent: {event.kind.value}\ndata: {event.data_json()}\n\n".encode()


def tag_events(body: bytes, stream_id: str) -> bytes:
    """Bytes of ``encode_event`` events as ``encode_event(event, stream_id)`` gives them.

    Every block starts with its ``id`` line and no data line holds a raw
    newline, so the blocks' starts are exactly the start and each ``\n\nid: ``:
    the bytes a stream's readers share are re-tagged without decoding them.
    """
    if not body:
        return b""
    tag = f"id: {stream_id}:".encode()
    return tag + body[4:].replace(b"\n\nid: ", b"\n\n" + tag)


_BLOCK_START = b"\n\nid: "


def pieces(body: bytes, size: int) -> Iterator[bytes]:
    """``body`` in slices of at most ``size`` bytes; the writer drains each before
    taking the next, so a reader that stops reading pins one slice of its own
    beyond the bytes every reader shares, never a copy of the whole body."""
    if len(body) <= size:
        if body:
            yield body
        return
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start : start + size])


def tagged_pieces(body: bytes, stream_id: str, size: int) -> Iterator[bytes]:
    """``tag_events(body, stream_id)`` as pieces of at most about ``2 * size`` bytes,
    never the whole re-tagged copy at once: whole small blocks are re-tagged
    together, and a block larger than ``size`` (a big snapshot) is its tagged
    head followed by raw slices (a block has one ``id`` line, at its start)."""
    if len(body) <= size:
        if body:
            yield tag_events(body, stream_id)
        return
    view, start = memoryview(body), 0
    while start < len(body):
        after = body.find(_BLOCK_START, start + size - 2)  # the first block from start + size on
        end = len(body) if after < 0 else after + 2
        last = body.rfind(_BLOCK_START, start, start + size + 3)  # the last block starting before
        big = start if last < 0 else last + 2
        if end - big <= size:  # only small blocks
            yield tag_events(bytes(view[start:end]), stream_id)
        else:
            if big > start:
                yield tag_events(bytes(view[start:big]), stream_id)
            yield tag_events(bytes(view[big : big + size]), stream_id)
            for cut in range(big + size, end, size):
                yield bytes(view[cut : min(cut + size, end)])
        start = end


def encode_gone(stream_id: str, reason: str) -> bytes:
    """The multiplexed endpoint's word that a stream has nothing for this reader.

    ``reason`` is ``unknown`` (unknown, expired or not yours: the single-stream
    endpoint's 404) or ``ended`` (resumed at the final: its 204).  No ``id``:
    it is no position in the stream.
    """
    data = json.dumps({"stream_id": stream_id, "reason": reason}, separators=(",", ":"))
    return f"event: gone\ndata: {data}\n\n".encode()


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


def parse_positions(values: list[str]) -> dict[str, int | None]:
    """The ``streams`` query of ``GET streams/events``: each value a comma-separated
    list of ``<stream_id>`` or ``<stream_id>:<last_id>`` (no last id: a snapshot).

    Raises ``InvalidRequest`` for an empty list, a malformed id or last id, a
    stream named twice, or more than ``MAX_STREAMS`` streams.
    """
    positions: dict[str, int | None] = {}
    items = [item for value in values for item in value.split(",")]
    if not values or len(items) > MAX_STREAMS:
        raise InvalidRequest(f"'streams' must name from 1 to {MAX_STREAMS} streams")
    for item in items:
        stream_id, _, last = item.strip().partition(":")
        if not _STREAM_ID.fullmatch(stream_id):
            raise InvalidRequest("each of 'streams' must be <stream_id> or <stream_id>:<last_id>")
        if stream_id in positions:
            raise InvalidRequest(f"stream {stream_id!r} is named twice in 'streams'")
        positions[stream_id] = parse_last_id(None, last)
    return positions


def split_tagged_id(event_id: str) -> tuple[str, int]:
    """``<stream_id>:<seq>`` (a multiplexed event's id) as its two parts; ValueError if malformed."""
    stream_id, colon, seq = event_id.rpartition(":")
    if not colon or not _STREAM_ID.fullmatch(stream_id):
        raise ValueError(f"not a multiplexed event id: {event_id!r}")
    return stream_id, int(seq)


@dataclass(frozen=True)
class StreamEvent:
    """One event of a stream.

    ``snapshot``: ``content``/``reasoning`` (and a run's ``parts``) replace what
    came before; ``delta``: ``text``/``reasoning`` are appended; ``tool``:
    ``call`` is a tool call as it stands now; ``final``: ``message`` is the
    committed message (also when the stream had expired and the client
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
    call: ToolCall | None = None
    parts: tuple[dict[str, Any], ...] = ()
    tool_arguments: dict[str, str] | None = None  # a delta: {call_id, text} of a call forming


def decode_event(event: str, data: str, event_id: str) -> StreamEvent:
    """An SSE ``event``/``data``/``id`` triple as a StreamEvent; ValueError if malformed."""
    kind = EventKind(event)
    payload = json.loads(data)
    seq = int(event_id)
    if kind is EventKind.DELTA:
        return StreamEvent(
            seq,
            kind,
            text=payload.get("text", ""),
            reasoning=payload.get("reasoning", ""),
            tool_arguments=payload.get("tool_arguments"),
        )
    if kind is EventKind.SNAPSHOT:
        return StreamEvent(
            seq,
            kind,
            content=payload["content"],
            reasoning=payload.get("reasoning", ""),
            status=payload.get("status", ""),
            parts=tuple(payload.get("parts") or ()),
        )
    if kind is EventKind.TOOL:
        return StreamEvent(seq, kind, call=ToolCall.from_json(payload["call"]))
    message = Message.from_json(payload["message"])
    return StreamEvent(seq, kind, content=message.content, status=message.status.value, message=message)


@dataclass
class Reply:
    """The text of a reply rebuilt from events (docs/protocol.md#exactly-once)."""

    content: str = ""
    reasoning: str = ""
    last_id: int | None = None
    message: Message | None = None
    calls: dict[str, ToolCall] = field(default_factory=dict)  # a run's calls, as they stand
    _parts: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def resuming(cls, content: str, last_id: int | None = None) -> Reply:
        """A reply already known up to ``content`` (a reader resuming with its text)."""
        return cls(content=content, last_id=last_id, _parts=[content])

    def apply(self, event: StreamEvent) -> None:
        if event.kind is EventKind.TOOL:
            assert event.call is not None
            self.calls[event.call.id] = event.call
            self.last_id = event.id
            return
        if event.kind is EventKind.SNAPSHOT:
            self._parts = [event.content]
            self.reasoning = event.reasoning
            self.calls = {
                p["call"]["id"]: ToolCall.from_json(p["call"]) for p in event.parts if p.get("type") == "tool"
            }
        elif event.kind is EventKind.DELTA:
            self._parts.append(event.text)
            self.reasoning += event.reasoning
        else:
            self.message = event.message
            self._parts = [event.content]
            if event.message is not None and event.message.parts:
                self.calls = {
                    p["call"]["id"]: ToolCall.from_json(p["call"])
                    for p in event.message.parts
                    if p.get("type") == "tool"
                }
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
