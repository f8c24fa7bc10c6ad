"""Every answer the integration suite sees is checked against the OpenAPI document.

The document (``jupyter_resumechat/openapi.json``, generated from the models by
``python -m jupyter_resumechat.openapi``) is what fuzzers and client generators
read; checking each response here keeps it true: a status it does not list,
or a body its schema refuses (every object is closed: a field it does not
name is refused too), fails the test that saw it.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

import jsonschema

__all__ = ["check_answer", "check_shape", "document"]


@cache
def document() -> dict[str, Any]:
    """The checked-in document, as the server serves it."""
    return json.loads(files("jupyter_resumechat").joinpath("openapi.json").read_text(encoding="utf-8"))


@cache
def _routes() -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    routes = []
    for template, operations in document()["paths"].items():
        pattern = re.sub(r"\{[^/]+\}", "[^/]+", template.lstrip("/"))
        routes.append((re.compile(f"{pattern}$"), operations))
    return routes


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema, with the components inlined for $ref."""
    if isinstance(schema, dict):
        converted = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable"):
            return {"anyOf": [converted, {"type": "null"}]}
        return converted
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    return schema


@cache
def _components() -> dict[str, Any]:
    return _json_schema(copy.deepcopy(document()["components"]))


def check_answer(method: str, path: str, status: int, body: bytes, content_type: str) -> None:
    """Fail unless the document lists ``status`` for the operation and its schema
    accepts ``body``; ``path`` is relative to ``resumechat/api/``."""
    path = path.split("?", 1)[0]
    if path == "openapi.json":
        return
    for pattern, operations in _routes():
        if pattern.match(path):
            operation = operations.get(method.lower())
            break
    else:
        raise AssertionError(f"{method} {path}: no such path in the OpenAPI document")
    if operation is None:
        assert status == 405, f"{method} {path}: the document has no such operation, yet it answered {status}"
        return
    answer = operation["responses"].get(str(status))
    assert answer is not None, (
        f"{method} {path} answered {status}, which the OpenAPI document does not list "
        f"({sorted(operation['responses'])})"
    )
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return
    assert content_type.startswith("application/json"), f"{method} {path} {status}: {content_type}"
    jsonschema.validate(json.loads(body), {**_json_schema(schema), "components": _components()})


def check_shape(component: str, data: Any) -> None:
    """Fail unless the document's schema ``component`` accepts ``data``."""
    components = _components()
    jsonschema.validate(data, {**components["schemas"][component], "components": components})
