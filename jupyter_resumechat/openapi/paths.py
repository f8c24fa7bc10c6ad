"""The operations of the REST API: parameters, request bodies and answers.

Answers name the component schemas (``schemas.py``) by ``$ref``; the limits
on what a request may carry are the handlers' own constants, so the document
cannot promise a limit the server does not keep.  Every operation can also
answer 400, 403, 413 and 503 (``_COMMON``): a bad query, missing
credentials, a body over the limit, a dependency down or a misconfiguration.
A little over 300 lines: every operation is here, in one table's order.
"""

from __future__ import annotations

from typing import Any

from ..handlers.fields import MAX_CONTEXT_ITEMS, MAX_ID_CHARS, MAX_KEY_CHARS, MAX_TITLE_CHARS, MAX_TOOLS
from .schemas import closed, ref

__all__ = ["paths"]

_COMMON = {
    "400": "Bad JSON or fields",
    "403": "Missing or bad credentials",
    "413": "The body is over the limit (decided from Content-Length before it is read)",
    "503": "Unavailable: a dependency (database, Redis) is down, or the extension is misconfigured; "
    "the detail names it",
}
_HEARTBEAT = {
    "X-ResumeChat-Heartbeat": {
        "description": "Seconds between keepalive comments; 2.5 times this much silence "
        "means the connection is dead (docs/protocol.md#silence)",
        "schema": {"type": "string"},
    }
}
_ID = {"type": "string", "maxLength": MAX_ID_CHARS}
_OPTIONAL_TEXT = {"type": "string", "nullable": True}
_CLIENT_ID = {"type": "string", "maxLength": 255, "nullable": True}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _answer(description: str, schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"description": description}
    if schema is not None:
        found["content"] = _json(schema)
    return {**found, **extra}


def _error(description: str) -> dict[str, Any]:
    return _answer(description, ref("Error"))


def _operation(operation_id: str, answers: dict[str, Any], summary: str = "", **extra: Any) -> dict[str, Any]:
    """One operation; the common error answers fill in what it does not say itself."""
    found: dict[str, Any] = {"operationId": operation_id}
    if summary:
        found["summary"] = summary
    found.update(extra)
    common = {status: _error(text) for status, text in _COMMON.items() if status not in answers}
    found["responses"] = {**answers, **common}
    return found


def _path_id(name: str) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True, "schema": _ID}]


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": _json(schema)}


def _list_of(key: str, component: str) -> dict[str, Any]:
    """``{key: [component]}``: a listing's answer, closed like the components."""
    items = {key: {"type": "array", "items": ref(component)}}
    return {"type": "object", "required": [key], "properties": items, "additionalProperties": False}


def _links(parameter: str, source: str, *operation_ids: str) -> dict[str, Any]:
    """OpenAPI links: the operations the answer's ``source`` field leads to."""
    pointer = f"$response.body#/{source}"
    return {
        operation[0].upper() + operation[1:]: {"operationId": operation, "parameters": {parameter: pointer}}
        for operation in operation_ids
    }


_CONVERSATION_OPERATIONS = (
    "getConversation renameConversation deleteConversation listMessages sendMessage streamStatus"
)
_CONVERSATION_LINKS = _links("cid", "id", *_CONVERSATION_OPERATIONS.split())


def _send_body() -> dict[str, Any]:
    """A send, a regenerate or a continue: exactly one of the three."""
    common = {"model": _OPTIONAL_TEXT, "client_id": _CLIENT_ID}
    send = {
        "content": {"type": "string", "minLength": 1},
        **common,
        "context": {"type": "array", "maxItems": MAX_CONTEXT_ITEMS, "items": ref("Context")},
        "tools": {
            "description": 'What the reply may call: "none" (the default), "all", or tool names (GET tools)',
            "oneOf": [
                {"type": "string", "enum": ["none", "all"]},
                {"type": "array", "maxItems": MAX_TOOLS, "items": _ID},
            ],
        },
    }
    again = {
        "regenerate": "The latest reply's id: generate it again, replacing it (no new user turn)",
        "continue": "The latest reply's id: extend it in place (interrupted, aborted, failed or cut; "
        "no visible user turn)",
    }
    choices = [{"type": "object", "required": ["content"], "properties": send}]
    for name, text in again.items():
        properties = {name: {**_ID, "description": text}, **common}
        choices.append({"type": "object", "required": [name], "properties": properties})
    return {"oneOf": choices}


def _conversations() -> dict[str, Any]:
    limit = {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}
    before = {"type": "string", "format": "date-time"}
    create = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
            "key": {"type": "string", "maxLength": MAX_KEY_CHARS, "nullable": True},
        },
    }
    return {
        "get": _operation(
            "listConversations",
            {"200": _answer("The page", _list_of("conversations", "Conversation"))},
            "Conversations, newest first",
            parameters=[
                {"name": "limit", "in": "query", "schema": limit},
                {
                    "name": "before",
                    "in": "query",
                    "schema": before,
                    "description": "Only conversations updated before this time",
                },
            ],
        ),
        "post": _operation(
            "createConversation",
            {
                "200": _answer(
                    "The existing conversation with that key", ref("Conversation"), links=_CONVERSATION_LINKS
                ),
                "201": _answer("Created", ref("Conversation"), links=_CONVERSATION_LINKS),
                "413": _error("Body too large"),
            },
            "Create, or get by key",
            requestBody=_body(create, required=False),
        ),
    }


def _conversation() -> dict[str, Any]:
    unknown = _error("Unknown or not yours")
    rename = {
        "type": "object",
        "required": ["title"],
        "properties": {"title": {"type": "string", "maxLength": MAX_TITLE_CHARS}},
    }
    return {
        "parameters": _path_id("cid"),
        "get": _operation(
            "getConversation", {"200": _answer("The conversation", ref("Conversation")), "404": unknown}
        ),
        "patch": _operation(
            "renameConversation",
            {
                "200": _answer("The conversation", ref("Conversation")),
                "404": unknown,
                "413": _error("Body too large"),
            },
            requestBody=_body(rename),
        ),
        "delete": _operation(
            "deleteConversation",
            {"204": _answer("Deleted (its active stream aborted first)"), "404": unknown},
        ),
    }


def _messages() -> dict[str, Any]:
    accepted = _answer(
        "Accepted; read the reply from the stream",
        ref("SendResult"),
        links=_links("sid", "stream_id", "streamEvents", "abortStream"),
    )
    return {
        "parameters": _path_id("cid"),
        "get": _operation(
            "listMessages",
            {
                "200": _answer(
                    "Oldest first; a streaming message shows its live content",
                    _list_of("messages", "Message"),
                ),
                "404": _error("Unknown or not yours"),
            },
        ),
        "post": _operation(
            "sendMessage",
            {
                "202": accepted,
                "404": _error("Unknown conversation, or a regenerate/continue of an unknown message"),
                "409": _answer("A generation is active", ref("Conflict")),
                "413": _error("Message too large"),
                "429": _error("Too many active generations"),
                "400": _error(
                    "Bad JSON or fields; regenerate or continue of a message that is not the latest reply"
                ),
            },
            requestBody=_body(_send_body()),
        ),
    }


def _event_streams() -> dict[str, Any]:
    stream = {"text/event-stream": {"schema": {"type": "string"}}}
    resume = {"type": "integer", "minimum": 0}
    single = _answer(
        "text/event-stream; events snapshot {message_id, content, reasoning, status}, "
        "delta {text}|{reasoning}, final {message}; their data's schemas are the components "
        "SnapshotEvent, DeltaEvent and FinalEvent",
        content=stream,
        headers=_HEARTBEAT,
    )
    many = _answer(
        "text/event-stream; each stream's events as GET streams/{sid}/events sends them, with id "
        "<sid>:<seq>; event gone {stream_id, reason: unknown|ended} for a stream that is unknown, "
        "expired or not yours (404 there) or resumed at its final (204 there); the response ends "
        "once every stream has ended (its data's schema: the component GoneEvent)",
        content=stream,
        headers=_HEARTBEAT,
    )
    streams = {
        "name": "streams",
        "in": "query",
        "required": True,
        "description": "Comma-separated <sid> or <sid>:<last_id> (no last id: start with a snapshot); "
        "may be repeated; 1 to 64 streams in all, each once",
        "schema": {"type": "string"},
    }
    return {
        "/streams/events": {
            "parameters": [streams],
            "get": _operation(
                "multiplexedEvents",
                {
                    "200": many,
                    "400": _error(
                        "'streams' missing or malformed, a stream named twice, or more than 64 streams"
                    ),
                },
                "Server-sent events of several streams on one connection (one per page)",
            ),
        },
        "/streams/{sid}/events": {
            "parameters": [
                *_path_id("sid"),
                {"name": "last_event_id", "in": "query", "schema": resume},
                {"name": "Last-Event-ID", "in": "header", "schema": resume},
            ],
            "get": _operation(
                "streamEvents",
                {
                    "200": single,
                    "204": _answer(
                        "Resumed at the final's id: the stream has nothing more, ever "
                        "(an EventSource stops reconnecting)"
                    ),
                    "404": _error("Unknown or expired: reload the messages"),
                },
                "Server-sent events: snapshot | delta* | final",
            ),
        },
    }


def _tools() -> dict[str, Any]:
    """What runs may call, and the steps of a run a person or a page takes."""
    conversation = {
        "name": "conversation",
        "in": "query",
        "schema": _ID,
        "description": "A conversation: its tools approved for good show as auto",
    }
    call_answer = _answer("The call as it stands now", ref("ToolCall"))
    conflict = _answer(
        "The call takes no such step now (the other decision won, another page claimed it, "
        "it ended): the call as it stands",
        ref("CallConflict"),
    )
    decision = {
        "type": "object",
        "required": ["decision"],
        "additionalProperties": False,
        "properties": {
            "decision": {"type": "string", "enum": ["approve", "deny"]},
            "note": {**_OPTIONAL_TEXT, "description": '"always": approve this tool for the conversation'},
        },
    }
    client = {"client_id": {"type": "string", "minLength": 1, "maxLength": 255}}
    return {
        "/tools": {
            "parameters": [conversation],
            "get": _operation("listTools", {"200": _answer("Every tool", _list_of("tools", "Tool"))}),
        },
        "/streams/{sid}/tools/{call_id}/decision": {
            "parameters": [*_path_id("sid"), *_path_id("call_id")],
            "post": _operation(
                "decideToolCall",
                {"200": call_answer, "404": _error("Unknown call, or not yours"), "409": conflict},
                "Approve or deny a call awaiting approval; the first decision wins, the same again "
                "changes nothing",
                requestBody=_body(decision),
            ),
        },
        "/streams/{sid}/tools/{call_id}/claim": {
            "parameters": [*_path_id("sid"), *_path_id("call_id")],
            "post": _operation(
                "claimToolCall",
                {
                    "200": _answer(
                        "Claimed (again: the lease renewed)",
                        closed({"lease_seconds": {"type": "number"}}, ["lease_seconds"]),
                    ),
                    "404": _error("Unknown call, or not yours"),
                    "409": conflict,
                },
                "A page takes a page tool's call to run it; renew within lease_seconds",
                requestBody=_body(closed(client, ["client_id"])),
            ),
        },
        "/streams/{sid}/tools/{call_id}/result": {
            "parameters": [*_path_id("sid"), *_path_id("call_id")],
            "post": _operation(
                "toolCallResult",
                {"200": call_answer, "404": _error("Unknown call, or not yours"), "409": conflict},
                "The claimant's result (content) or failure (error); the same again changes nothing",
                requestBody=_body(
                    closed({**client, "content": _OPTIONAL_TEXT, "error": _OPTIONAL_TEXT}, ["client_id"])
                ),
            ),
        },
    }


def paths() -> dict[str, Any]:
    """Every path of the API, relative to ``{base_url}resumechat/api``."""
    return {
        "/conversations": _conversations(),
        "/conversations/{cid}": _conversation(),
        "/conversations/{cid}/messages": _messages(),
        "/conversations/{cid}/stream": {
            "parameters": _path_id("cid"),
            "get": _operation("streamStatus", {"200": _answer("Always 200", ref("StreamStatus"))}),
        },
        **_event_streams(),
        "/streams/{sid}/abort": {
            "parameters": _path_id("sid"),
            "post": _operation(
                "abortStream",
                {
                    "200": _answer("The final message, once committed", ref("Message")),
                    "404": _error("Unknown or expired"),
                },
            ),
        },
        **_tools(),
        "/models": {"get": _operation("listModels", {"200": _answer("Models", ref("Models"))})},
        "/health": {
            "get": _operation(
                "health",
                {
                    "200": _answer("Both stores answer", ref("Health")),
                    "503": _answer(
                        "A store is down or the extension is misconfigured: the same body, "
                        "with error and detail naming which",
                        ref("Health"),
                    ),
                },
                "Is the chat usable: both stores probed within a timeout (for load balancers and the panel)",
            ),
        },
    }
