"""Pure parsing of request fields (docs/protocol.md#api): no tornado, testable with dicts.

Each function returns the field's value or raises ``InvalidRequest`` /
``TooLarge``, which the handlers' one error mapping turns into 400 / 413.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidRequest, TooLarge
from ..models import CONTEXT_KINDS, Context

__all__ = [
    "ID",
    "MAX_CONTEXT_ITEMS",
    "MAX_ID_CHARS",
    "MAX_KEY_CHARS",
    "MAX_TITLE_CHARS",
    "again_field",
    "check_text",
    "context_field",
    "decision_field",
    "text_field",
    "tools_field",
]

MAX_ID_CHARS = 64
MAX_TITLE_CHARS = 1000
MAX_KEY_CHARS = 1024
MAX_CONTEXT_ITEMS = 20
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_text(value: Any, depth: int = 0) -> None:
    """Every string must be storable text: no lone surrogates, no U+0000 (docs/protocol.md#api)."""
    if depth > 32:
        raise InvalidRequest("the body's JSON is nested too deeply")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest("text must not contain U+0000")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("text must not contain lone UTF-16 surrogates") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, depth + 1)
            check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_text(item, depth + 1)


def text_field(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    """The string ``body[name]``, at most ``limit`` characters (a long ``content`` is 413)."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string")
    if len(value) > limit:
        raise (TooLarge if name == "content" else InvalidRequest)(
            f"'{name}' has {len(value)} characters; the limit is {limit}"
        )
    return value


def again_field(body: dict[str, Any]) -> tuple[bool, str] | None:
    """``regenerate`` or ``continue`` (a message id; either, never with ``content``):
    (keep the reply's text, the id), or None for an ordinary send."""
    asked = [name for name in ("regenerate", "continue") if body.get(name) is not None]
    if not asked:
        return None
    if len(asked) > 1 or "content" in body or "context" in body:
        raise InvalidRequest("send 'content', 'regenerate' or 'continue', only one of them")
    message_id = text_field(body, asked[0], 64) or ""
    return asked[0] == "continue", message_id


def context_field(body: dict[str, Any], limit: int) -> list[Context]:
    """``context``: up to MAX_CONTEXT_ITEMS ``{kind, name, content}`` objects."""
    items = body.get("context")
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > MAX_CONTEXT_ITEMS:
        raise InvalidRequest(f"'context' must be a list of at most {MAX_CONTEXT_ITEMS} objects")
    found = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in CONTEXT_KINDS:
            raise InvalidRequest(f"each context item needs a 'kind' among {', '.join(CONTEXT_KINDS)}")
        name = text_field(item, "name", MAX_TITLE_CHARS, required=True) or ""
        found.append(Context(item["kind"], name, text_field(item, "content", limit, required=True) or ""))
    return found


MAX_TOOLS = 200


def tools_field(body: dict[str, Any]) -> str | list[str] | None:
    """``tools`` of a send: ``"none"`` (or absent), ``"all"``, or a list of tool names."""
    value = body.get("tools")
    if value is None or value in ("none", "all"):
        return value
    if (
        not isinstance(value, list)
        or len(value) > MAX_TOOLS
        or not all(isinstance(name, str) and ID.fullmatch(name) for name in value)
    ):
        raise InvalidRequest(f'\'tools\' must be "none", "all" or a list of at most {MAX_TOOLS} tool names')
    return value


def decision_field(body: dict[str, Any]) -> tuple[bool, str | None]:
    """A decision's ``{decision: "approve"|"deny", note?}``."""
    decision = body.get("decision")
    if decision not in ("approve", "deny"):
        raise InvalidRequest('\'decision\' must be "approve" or "deny"')
    return decision == "approve", text_field(body, "note", 2000)
