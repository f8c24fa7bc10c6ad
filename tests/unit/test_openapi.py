"""The OpenAPI document is generated from the models and cannot drift from them.

The checked-in ``openapi.json`` must be exactly what ``python -m
jupyter_resumechat.openapi`` writes today; every object schema is closed; and
each wire class's JSON, fully populated and minimal, fits its schema both
ways: no field the server sends is missing from the document, and no field
the document requires is one the server does not send.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from jupyter_resumechat.errors import GenerationActive, InvalidRequest
from jupyter_resumechat.jobs.health import Health, StoreHealth
from jupyter_resumechat.models import (
    Context,
    Conversation,
    Message,
    MessageStatus,
    ModelInfo,
    Models,
    Role,
    SendResult,
    StreamStatus,
    ToolCall,
    Usage,
    Window,
)
from jupyter_resumechat.openapi import render
from tests.support.openapi import check_shape, document

T = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
CONTEXT = Context("cell", "In [1]", "print(1)")


def _message(**changes: Any) -> Message:
    return Message("m1", "c1", Role.ASSISTANT, "hi", MessageStatus.COMPLETE, T, T, **changes)


CALL = ToolCall(
    "t1",
    "file_write",
    {"path": "a.txt", "content": "x"},
    "server",
    "done",
    T,
    T,
    result={"content": "wrote a.txt", "truncated": False},
    error={"type": "page", "detail": "no kernel"},
    decision={"decision": "approve", "note": "always", "at": "2026-01-02T03:04:05Z"},
    claimed_by="tab-1",
)
FULL_MESSAGE = _message(
    model="gpt",
    error={"type": "timeout", "detail": "slow"},
    reasoning="because",
    context=[CONTEXT],
    usage=Usage(10, 2),
    window=Window(100, 12, 1),
    parts=[
        {"type": "reasoning", "text": "because"},
        {"type": "text", "text": "hi"},
        {"type": "tool", "call": CALL.to_json()},
    ],
)
# (schema, JSON of an instance with every field set, JSON of one with only what is required)
EXAMPLES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "Conversation": (
        "Conversation",
        Conversation("c1", "k", "t", T, T).to_json(),
        Conversation("c1", None, "", T, T).to_json(),
    ),
    "Message": ("Message", FULL_MESSAGE.to_json(), _message().to_json()),
    "Context": ("Context", CONTEXT.to_json(), Context("text", "", "").to_json()),
    "Usage": ("Usage", Usage(1, 2).to_json(), Usage(0, 0).to_json()),
    "Window": ("Window", Window(10, 5, 2).to_json(), Window(10, 5).to_json()),
    "SendResult": (
        "SendResult",
        SendResult(FULL_MESSAGE, FULL_MESSAGE, "s1").to_json(),
        SendResult(_message(), _message(), "s1").to_json(),
    ),
    "StreamStatus": (
        "StreamStatus",
        StreamStatus(True, "s1", "m1", 3, T, "approval").to_json(),
        StreamStatus(False).to_json(),
    ),
    "ToolCall": (
        "ToolCall",
        CALL.to_json(),
        ToolCall("t1", "file_read", {}, "server", "proposed", T, T).to_json(),
    ),
    "ModelInfo": (
        "ModelInfo",
        ModelInfo("m", "demo", "M", 8192).to_json(),
        ModelInfo("m", "demo", "M").to_json(),
    ),
    "Models": ("Models", Models("m", [ModelInfo("m", "demo", "M", 1)]).to_json(), Models("m", []).to_json()),
    "Error": ("Error", InvalidRequest("bad").to_json(), InvalidRequest("").to_json()),
    "Conflict": ("Conflict", GenerationActive("busy", "s1").to_json(), GenerationActive("", "s1").to_json()),
    "Health": (
        "Health",
        Health(
            "demo",
            "demo",
            StoreHealth("sqlite", True, 1.5),
            StoreHealth("redis", False, None, "down"),
            jobs=1,
            readers=2,
            instance={"id": "i1", "lease_seconds": 10.0, "lease_until": "2026-01-02T03:04:05Z"},
        ).to_json(),
        Health("demo", "demo", StoreHealth("sqlite", True, 1.0), StoreHealth("memory", True, 0.1)).to_json(),
    ),
    "Health misconfigured": (
        "Health",
        Health.misconfigured("openai", "gpt", "ResumeChat.db_url: bad", ("sqlite", "memory")).to_json(),
        Health.misconfigured("openai", "gpt", "ResumeChat.db_url: bad", ("", "")).to_json(),
    ),
}


def _objects(schema: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every object schema (one with ``properties``) inside ``schema``."""
    found = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append((where, schema))
        for key, value in schema.items():
            found += _objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found += _objects(value, f"{where}/{index}")
    return found


def test_the_checked_in_document_is_the_generated_one() -> None:
    """CI's drift check: change a model, run ``python -m jupyter_resumechat.openapi``."""
    shipped = files("jupyter_resumechat").joinpath("openapi.json").read_text(encoding="utf-8")
    assert shipped == render(), "openapi.json is stale: run python -m jupyter_resumechat.openapi"
    check = [sys.executable, "-m", "jupyter_resumechat.openapi", "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0


def test_every_answer_schema_is_closed() -> None:
    """An extra field in an answer is refused, not let through (request bodies stay
    open: the server ignores fields it does not know)."""
    doc = document()
    answers = [
        (f"{path} {method} {status}", answer["content"]["application/json"]["schema"])
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
        if method != "parameters"
        for status, answer in operation["responses"].items()
        if "application/json" in answer.get("content", {})
    ]
    objects = _objects(doc["components"]["schemas"], "components") + [
        found for where, schema in answers for found in _objects(schema, where)
    ]
    assert len(objects) > 15
    assert [where for where, schema in objects if schema.get("additionalProperties") is not False] == []


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_wire_object_fits_its_schema_both_ways(name: str) -> None:
    component, full, minimal = EXAMPLES[name]
    schema = document()["components"]["schemas"][component]
    check_shape(component, full)
    check_shape(component, minimal)
    # every field the server can send is declared, and every declared field is sent
    assert sorted(full) == sorted(schema["properties"])
    assert set(schema["required"]) <= set(minimal)
    with pytest.raises(jsonschema.ValidationError):
        check_shape(component, {**full, "undeclared": 1})
    for required in schema["required"]:
        with pytest.raises(jsonschema.ValidationError):
            check_shape(component, {k: v for k, v in minimal.items() if k != required})
