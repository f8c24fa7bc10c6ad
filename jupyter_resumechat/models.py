"""The data of the wire protocol (docs/protocol.md#objects), one class per concept.

Server, client and tests share these classes and their single JSON encoding,
so that what the server writes is exactly what the client reads back.  These
classes are also where a wire field is declared: the OpenAPI document's
schemas are generated from their fields (``python -m jupyter_resumechat.openapi``),
and ``wire()`` metadata says what a field's type alone cannot.  Longer than
300 lines because each wire concept keeps its one encoding beside its fields.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from json.encoder import encode_basestring
from typing import Any

__all__ = [
    "CONTEXT_KINDS",
    "Context",
    "Conversation",
    "Event",
    "EventKind",
    "Message",
    "MessageStatus",
    "ModelInfo",
    "Models",
    "Role",
    "SendResult",
    "StreamStatus",
    "ToolCall",
    "Usage",
    "Window",
    "format_time",
    "parse_time",
    "parts_of",
    "utcnow",
    "wire",
]


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the one time format on the wire."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Read an ISO 8601 time; a time without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def wire(
    doc: str = "",
    *,
    omitted_when_empty: bool = False,
    enum: tuple[str, ...] = (),
    keys: tuple[str, ...] = (),
    items: str = "",
) -> dict[str, Any]:
    """Field metadata for the generated schema: a description (``doc``), a field
    ``to_json`` leaves out when it is empty (so not required), the values a
    string may take (``enum``), the string ``keys`` a dict always has, the
    component a list of plain dicts holds (``items``)."""
    return {
        "wire": {
            "doc": doc,
            "omitted_when_empty": omitted_when_empty,
            "enum": enum,
            "keys": keys,
            "items": items,
        }
    }


_DELTA_KEYS = {"text": '{"text":', "reasoning": '{"reasoning":'}


class Role(str, enum.Enum):
    """Who wrote a message."""

    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(str, enum.Enum):
    """Where a message is in its life; all but ``STREAMING`` are final."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    ABORTED = "aborted"
    ERROR = "error"
    INTERRUPTED = "interrupted"


class EventKind(str, enum.Enum):
    """The SSE event types of a stream."""

    SNAPSHOT = "snapshot"
    DELTA = "delta"
    TOOL = "tool"  # a tool call appeared or changed status: the whole call
    FINAL = "final"


@dataclass
class Conversation:
    """A thread of messages; ``key`` is the caller's stable name for it."""

    id: str
    key: str | None
    title: str
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Conversation:
        return cls(
            id=data["id"],
            key=data.get("key"),
            title=data["title"],
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
        )


CONTEXT_KINDS = ("cell", "selection", "output", "error", "variable", "file", "text")


@dataclass(frozen=True)
class Context:
    """Something attached to a user message, already rendered to (bounded) text."""

    kind: str = field(metadata=wire(enum=CONTEXT_KINDS))
    name: str
    content: str

    def bounded(self, limit: int) -> Context:
        """Within ``limit`` characters, saying how much was left out (an attached item
        is context, not the message: cut, not refused).  The head is kept, but of an
        error the end too: a traceback's last line is the exception itself."""
        if len(self.content) <= limit:
            return self
        note = f"\n… ({len(self.content) - limit} more characters left out)"
        if self.kind != "error":
            return dataclasses.replace(self, content=self.content[: max(limit - len(note), 0)] + note)
        note += " …\n"
        room = max(limit - len(note), 0)
        tail = room * 3 // 4
        return dataclasses.replace(self, content=self.content[: room - tail] + note + self.content[-tail:])

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "content": self.content}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Context:
        return cls(data["kind"], data["name"], data["content"])


@dataclass(frozen=True)
class Usage:
    """Tokens a reply cost, as the provider reported them."""

    input_tokens: int
    output_tokens: int

    def to_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Usage:
        return cls(int(data["input_tokens"]), int(data["output_tokens"]))


@dataclass(frozen=True)
class Window:
    """How the conversation was fitted into the model's context for one reply:
    the token ``budget``, the ``tokens`` sent by the estimate (calibrated by the
    model's earlier counts; its own count of this request is ``usage``) and how
    many earlier messages were ``omitted`` to fit (oldest first)."""

    budget: int
    tokens: int
    omitted: int = 0

    def to_json(self) -> dict[str, int]:
        return {"budget": self.budget, "tokens": self.tokens, "omitted": self.omitted}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Window:
        return cls(int(data["budget"]), int(data["tokens"]), int(data.get("omitted", 0)))


@dataclass
class Message:
    """One message; an assistant message grows while ``status`` is streaming.

    A user message carries what was attached to it (``context``), exactly as
    sent; an assistant message its ``usage`` when the provider reported it and
    the context ``window`` it was generated in.
    """

    id: str
    conversation_id: str
    role: Role
    content: str
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    model: str | None = None
    error: dict[str, str] | None = field(default=None, metadata=wire(keys=("type", "detail")))
    reasoning: str = field(default="", metadata=wire(omitted_when_empty=True))
    context: list[Context] = field(
        default_factory=list, metadata=wire("User messages: what was attached, as sent")
    )
    usage: Usage | None = field(
        default=None, metadata=wire("Assistant messages: tokens, when the provider reported them")
    )
    window: Window | None = field(
        default=None, metadata=wire("Assistant messages: the context window the reply was made in")
    )
    parts: list[dict[str, Any]] = field(
        default_factory=list,
        metadata=wire(
            "Assistant messages of a run with tools: its steps in order (content is the "
            "concatenation of the text parts); left out for a reply without calls",
            omitted_when_empty=True,
            items="Part",
        ),
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "role": self.role.value,
            "content": self.content,
            "status": self.status.value,
            "model": self.model,
            "error": self.error,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "context": [c.to_json() for c in self.context],
            "usage": self.usage.to_json() if self.usage else None,
            "window": self.window.to_json() if self.window else None,
        }
        if self.reasoning:
            data["reasoning"] = self.reasoning
        if self.parts:
            data["parts"] = self.parts
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(
            id=data["id"],
            conversation_id=data["conversation_id"],
            role=Role(data["role"]),
            content=data["content"],
            status=MessageStatus(data["status"]),
            model=data.get("model"),
            error=data.get("error"),
            reasoning=data.get("reasoning", ""),
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            context=[Context.from_json(c) for c in data.get("context") or []],
            usage=Usage.from_json(data["usage"]) if data.get("usage") else None,
            window=Window.from_json(data["window"]) if data.get("window") else None,
            parts=list(data.get("parts") or []),
        )

    def replace(self, **changes: Any) -> Message:
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Event:
    """One SSE event of a stream: its sequence number, kind and JSON data."""

    id: int
    kind: EventKind
    data: dict[str, Any] = field(default_factory=dict)

    def data_json(self) -> str:
        """The ``data:`` payload, compact and with non-ASCII kept as is."""
        data = self.data
        if len(data) == 1:  # the hot path: a delta's {"text": ...} or {"reasoning": ...}
            key, value = next(iter(data.items()))
            if isinstance(value, str) and key in _DELTA_KEYS:
                return _DELTA_KEYS[key] + encode_basestring(value) + "}"
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class StreamStatus:
    """The answer of ``GET conversations/{cid}/stream``."""

    active: bool
    stream_id: str | None = None
    message_id: str | None = None
    last_event_id: int = 0
    started_at: datetime | None = None
    awaiting: str | None = field(
        default=None,
        metadata=wire(
            "A run with tools waiting for a decision or a page's result", enum=("approval", "page")
        ),
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "stream_id": self.stream_id,
            "message_id": self.message_id,
            "last_event_id": self.last_event_id,
            "started_at": format_time(self.started_at) if self.started_at else None,
            "awaiting": self.awaiting,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StreamStatus:
        started = data.get("started_at")
        return cls(
            active=data["active"],
            stream_id=data.get("stream_id"),
            message_id=data.get("message_id"),
            last_event_id=data.get("last_event_id", 0),
            started_at=parse_time(started) if started else None,
            awaiting=data.get("awaiting"),
        )


@dataclass(frozen=True)
class SendResult:
    """The answer to a send (202): both messages and the stream to read."""

    user_message: Message
    assistant_message: Message
    stream_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "user_message": self.user_message.to_json(),
            "assistant_message": self.assistant_message.to_json(),
            "stream_id": self.stream_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SendResult:
        return cls(
            Message.from_json(data["user_message"]),
            Message.from_json(data["assistant_message"]),
            data["stream_id"],
        )


@dataclass(frozen=True)
class ModelInfo:
    """One model a server offers: an entry of ``GET models``."""

    id: str
    provider: str
    label: str
    context_tokens: int = field(
        default=0, metadata=wire("The token budget the conversation is fitted into", omitted_when_empty=True)
    )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "provider": self.provider, "label": self.label}
        if self.context_tokens:
            data["context_tokens"] = self.context_tokens
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelInfo:
        return cls(data["id"], data["provider"], data["label"], int(data.get("context_tokens") or 0))


@dataclass(frozen=True)
class Models:
    """The answer of ``GET models``: the default model first among all."""

    default: str
    models: list[ModelInfo]

    def to_json(self) -> dict[str, Any]:
        return {"default": self.default, "models": [m.to_json() for m in self.models]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Models:
        return cls(data["default"], [ModelInfo.from_json(m) for m in data["models"]])


CALL_STATUSES = (
    "proposed",
    "awaiting_approval",
    "approved",
    "running",
    "done",
    "error",
    "denied",
    "cancelled",
    "unknown",
)


@dataclass
class ToolCall:
    """One tool call of a run, as committed: what was asked, who decided, who ran it, what came back.

    ``result`` is bounded (``tool_result_chars``) and untrusted: clients show it
    as text, never as live HTML.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(metadata=wire("The arguments as the model gave them (a JSON object)"))
    runs_on: str = field(metadata=wire(enum=("server", "page")))
    status: str = field(metadata=wire(enum=CALL_STATUSES))
    created_at: datetime
    updated_at: datetime
    result: dict[str, Any] | None = field(default=None, metadata=wire(items="ToolResult"))
    error: dict[str, str] | None = field(default=None, metadata=wire(keys=("type", "detail")))
    decision: dict[str, Any] | None = field(default=None, metadata=wire(items="Decision"))
    claimed_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "runs_on": self.runs_on,
            "status": self.status,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "result": self.result,
            "error": self.error,
            "decision": self.decision,
            "claimed_by": self.claimed_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolCall:
        return cls(
            id=data["id"],
            name=data["name"],
            arguments=dict(data.get("arguments") or {}),
            runs_on=data["runs_on"],
            status=data["status"],
            created_at=parse_time(data["created_at"]),
            updated_at=parse_time(data["updated_at"]),
            result=data.get("result"),
            error=data.get("error"),
            decision=data.get("decision"),
            claimed_by=data.get("claimed_by"),
        )


def parts_of(content: str, reasoning: str, placed: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """A run's parts in order: its reasoning, then its text cut where each call was
    proposed (``placed``: each call with ``len(content)`` at that moment), so the
    text parts joined are exactly ``content``.  Empty for a reply without calls.
    Each call is its wire JSON (``ToolCall.to_json``)."""
    if not placed:
        return []
    parts: list[dict[str, Any]] = [{"type": "reasoning", "text": reasoning}] if reasoning else []
    start = 0
    for offset, call in placed:
        offset = max(start, min(offset, len(content)))
        if offset > start:
            parts.append({"type": "text", "text": content[start:offset]})
        parts.append({"type": "tool", "call": call})
        start = offset
    if start < len(content):
        parts.append({"type": "text", "text": content[start:]})
    return parts
