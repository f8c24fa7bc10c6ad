"""The OpenAPI schemas of the wire objects, derived from their dataclasses.

A field is declared once, on its class in ``models.py``; its type says the
schema (``str | None`` is a nullable string, ``list[Context]`` an array of
``$ref Context``, an enum its values) and ``models.wire`` metadata what the
type cannot (a description, a field left out when empty, a dict's keys).
Every object is closed (``additionalProperties: false``), so a field the
server sends but no class declares, or one it no longer sends, fails the
check of every answer the tests see.  The few shapes that are not a model
(errors, health, the data of the stream's events) are declared here, just
as closed.  A little over 300 lines: one walk over Python's type forms,
each branch a few lines; split, a reader would chase one recursion across files.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import datetime
from typing import Any

from .. import models
from ..errors import GenerationActive, Unavailable, code_for_status

__all__ = ["COMPONENTS", "component_schemas", "ref", "schema_of"]

COMPONENTS = "#/components/schemas/"
# the dataclasses that are wire objects, in the order the document lists them
WIRE_CLASSES: tuple[type[Any], ...] = (
    models.Conversation,
    models.Message,
    models.Context,
    models.Usage,
    models.Window,
    models.SendResult,
    models.StreamStatus,
    models.ToolCall,
    models.ModelInfo,
    models.Models,
)
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": COMPONENTS + name}


def closed(properties: dict[str, Any], required: list[str], doc: str = "") -> dict[str, Any]:
    """An object schema that refuses any property it does not name."""
    found: dict[str, Any] = {"type": "object"}
    if doc:
        found["description"] = doc
    found.update(required=required, properties=properties, additionalProperties=False)
    return found


def _type_schema(hint: Any, wire: dict[str, Any]) -> dict[str, Any]:
    """The schema of one (non-None) type; a nested wire object is a ``$ref``."""
    if hint in _SCALARS:
        schema = dict(_SCALARS[hint])
        if wire.get("enum"):
            schema["enum"] = list(wire["enum"])
        return schema
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [member.value for member in hint]}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return ref(hint.__name__)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list and wire.get("items"):  # plain dicts of a shape declared here
        return {"type": "array", "items": ref(wire["items"])}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], {})}
    if origin is dict and wire.get("items"):
        return ref(wire["items"])
    if origin is dict and not wire.get("keys"):
        return {"type": "object", "description": "any JSON object"}
    if origin is dict and wire.get("keys"):
        value = _type_schema(args[1], {})
        return closed({key: dict(value) for key in wire["keys"]}, list(wire["keys"]))
    raise TypeError(f"no schema for {hint!r}: give the field wire() metadata or a simpler type")


def _field_schema(hint: Any, wire: dict[str, Any]) -> dict[str, Any]:
    """A field's schema; ``X | None`` is nullable (a ``$ref`` wrapped in allOf for it)."""
    args = typing.get_args(hint)
    nullable = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    if nullable:
        (hint,) = [arg for arg in args if arg is not type(None)]
    schema = _type_schema(hint, wire)
    if nullable:
        schema = {"allOf": [schema]} if "$ref" in schema else schema
        schema["nullable"] = True
    if wire.get("doc"):
        schema["description"] = wire["doc"]
    return schema


def schema_of(cls: type[Any]) -> dict[str, Any]:
    """The closed schema of a wire dataclass: every field, required unless
    its ``to_json`` leaves it out when empty."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for found in dataclasses.fields(cls):
        wire = found.metadata.get("wire", {})
        properties[found.name] = _field_schema(hints[found.name], wire)
        if not wire.get("omitted_when_empty"):
            required.append(found.name)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]  # the first paragraph, as Markdown
    return closed(properties, required, " ".join(doc.split()).replace("``", "`"))


def _errors() -> dict[str, Any]:
    statuses = (400, 403, 404, 405, 409, 413, 429, 503, 500)
    codes = ", ".join(f"{code_for_status(status)} ({status})" for status in statuses)
    error = closed(
        {"error": {"type": "string", "description": codes}, "detail": {"type": "string"}},
        ["error", "detail"],
        "Every error answer: a code and a human text",
    )
    conflict = closed(
        {
            "error": {"type": "string", "enum": [GenerationActive.code]},
            "detail": {"type": "string"},
            "stream_id": {"type": "string", "description": "The active generation's stream"},
        },
        ["error", "detail", "stream_id"],
        "409 of a send: the conversation already has an active generation",
    )
    call_conflict = closed(
        {
            "error": {"type": "string", "enum": ["decided", "claimed", "ended", "not_page"]},
            "detail": {"type": "string"},
            "call": ref("ToolCall"),
        },
        ["error", "detail", "call"],
        "409 of a tool call's step: the call as it stands (the other decision won, another page "
        "claimed it, it ended, or the server runs it)",
    )
    return {"Error": error, "Conflict": conflict, "CallConflict": call_conflict}


def _health() -> dict[str, Any]:
    """``jobs/health.py``'s answer, whose JSON is not its dataclass's fields."""
    store = closed(
        {
            "backend": {"type": "string", "description": "sqlite, postgresql; memory, redis"},
            "ok": {"type": "boolean"},
            "latency_ms": {
                "type": "number",
                "nullable": True,
                "description": "one round trip, null when it failed",
            },
            "detail": {"type": "string", "description": "why it is not ok"},
        },
        ["backend", "ok", "latency_ms"],
    )
    instance = closed(
        {
            "id": {"type": "string"},
            "lease_seconds": {"type": "number"},
            "lease_until": {
                "type": "string",
                "format": "date-time",
                "nullable": True,
                "description": "null when the database did not answer",
            },
        },
        ["id", "lease_seconds", "lease_until"],
        "This server process; null when the extension is misconfigured",
    )
    instance["nullable"] = True
    stores = closed({"messages": ref("StoreHealth"), "streams": ref("StoreHealth")}, ["messages", "streams"])
    count = {"type": "integer", "minimum": 0}
    health = closed(
        {
            "ok": {"type": "boolean"},
            "provider": {"type": "string"},
            "model": {"type": "string"},
            "stores": stores,
            "jobs": {**count, "description": "generations running in this server"},
            "readers": {**count, "description": "event-stream readers open on this server"},
            "instance": instance,
            "mcp": {
                "type": "object",
                "description": "each configured MCP server by name; a dead one is named here, not a 503",
                "additionalProperties": closed(
                    {
                        "ok": {"type": "boolean"},
                        "tools": count,
                        "error": {"type": "string", "nullable": True},
                        "restarts": count,
                    },
                    ["ok", "tools", "error", "restarts"],
                ),
            },
            "error": {"type": "string", "enum": [Unavailable.code], "description": "only when not ok"},
            "detail": {"type": "string", "description": "what is wrong, naming the trait or the store"},
        },
        ["ok", "provider", "model", "stores", "jobs", "readers", "instance", "mcp"],
        "Is the chat usable: both stores probed within a timeout",
    )
    return {"StoreHealth": store, "Health": health}


def _events() -> dict[str, Any]:
    """The ``data`` of each event-stream event (OpenAPI cannot attach them to
    ``text/event-stream``; clients and the tests read them from here)."""
    text = {"type": "string"}
    snapshot = closed(
        {
            "message_id": text,
            "content": text,
            "reasoning": text,
            "status": {"type": "string", "enum": [status.value for status in models.MessageStatus]},
            "parts": {"type": "array", "items": ref("Part"), "description": "A run with tools: its steps"},
        },
        ["message_id", "content", "reasoning", "status"],
        "event: snapshot. The reply so far; its id is the last event it covers (0: none)",
    )
    pieces = [closed({key: text}, [key]) for key in ("text", "reasoning")]
    arguments = closed({"call_id": text, "text": text}, ["call_id", "text"])
    pieces.append(closed({"tool_arguments": arguments}, ["tool_arguments"]))
    delta = {
        "description": "event: delta. The next piece of the reply, of its reasoning, or of a tool "
        "call's arguments as the model forms them (the call itself comes as a tool event)",
        "oneOf": pieces,
    }
    final = closed(
        {"message": ref("Message")}, ["message"], "event: final. The committed message; then the end"
    )
    gone = closed(
        {"stream_id": text, "reason": {"type": "string", "enum": ["unknown", "ended"]}},
        ["stream_id", "reason"],
        "event: gone (GET streams/events only, no id). unknown: the stream's endpoint would "
        "answer 404; ended: it would answer 204",
    )
    tool = closed(
        {"call": ref("ToolCall")},
        ["call"],
        "event: tool. A tool call appeared or changed status: the whole call, so one event alone is enough",
    )
    return {
        "SnapshotEvent": snapshot,
        "DeltaEvent": delta,
        "ToolEvent": tool,
        "FinalEvent": final,
        "GoneEvent": gone,
    }


def _tool_shapes() -> dict[str, Any]:
    """The shapes of a run with tools that are plain dicts: parts, results, decisions, tools."""
    text = {"type": "string"}
    part = {
        "description": "One step of a reply: text, reasoning, or a tool call",
        "oneOf": [
            closed({"type": {"type": "string", "enum": ["text"]}, "text": text}, ["type", "text"]),
            closed({"type": {"type": "string", "enum": ["reasoning"]}, "text": text}, ["type", "text"]),
            closed({"type": {"type": "string", "enum": ["tool"]}, "call": ref("ToolCall")}, ["type", "call"]),
        ],
    }
    result = closed(
        {"content": text, "truncated": {"type": "boolean"}},
        ["content", "truncated"],
        "A tool's result as the model read it (cut to tool_result_chars; untrusted text)",
    )
    decision = closed(
        {
            "decision": {"type": "string", "enum": ["approve", "deny"]},
            "note": {"type": "string", "nullable": True},
            "at": {"type": "string", "format": "date-time"},
        },
        ["decision", "note", "at"],
        "Who decided what about a call that needed an approval",
    )
    tool = closed(
        {
            "name": text,
            "description": text,
            "input_schema": {"type": "object", "description": "JSON Schema of the arguments"},
            "runs_on": {"type": "string", "enum": ["server", "page"]},
            "effect": {"type": "string", "enum": ["read", "write", "execute"]},
            "approval": {"type": "string", "enum": ["auto", "ask", "never"]},
            "source": text,
        },
        ["name", "description", "input_schema", "runs_on", "effect", "approval", "source"],
        "A tool a run may call, with the approval this deployment gives it",
    )
    return {"Part": part, "ToolResult": result, "Decision": decision, "Tool": tool}


def component_schemas() -> dict[str, Any]:
    """Every schema of ``components``: the wire classes, errors, health, events."""
    schemas = {cls.__name__: schema_of(cls) for cls in WIRE_CLASSES}
    return {**schemas, **_tool_shapes(), **_errors(), **_health(), **_events()}
