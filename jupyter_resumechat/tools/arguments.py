"""A call's arguments: parsed from the model's JSON text and checked against the tool's schema.

A call whose arguments do not parse, are not an object, or break the tool's
``input_schema`` is never run: it ends ``error`` with a short, bounded reason
that the model reads, so it can correct itself on the next round.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, best_match

__all__ = ["MAX_ARGUMENT_CHARS", "BadArguments", "check_arguments", "parse_arguments"]

MAX_ARGUMENT_CHARS = 1_000_000  # a call's arguments past this are refused, not parsed
_REASON_CHARS = 300  # a reason the model reads is cut to this


class BadArguments(ValueError):
    """The arguments cannot be used; ``str()`` is the reason the model is told."""


def parse_arguments(text: str) -> dict[str, Any]:
    """The JSON object in ``text`` (an empty text is ``{}``); raises BadArguments."""
    if len(text) > MAX_ARGUMENT_CHARS:
        raise BadArguments(
            f"the arguments are {len(text)} characters, over the limit of {MAX_ARGUMENT_CHARS}"
        )
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except RecursionError:
        raise BadArguments("the arguments are nested too deeply") from None
    except ValueError as error:
        raise BadArguments(f"the arguments are not valid JSON: {_short(str(error))}") from None
    if not isinstance(value, dict):
        raise BadArguments(f"the arguments must be a JSON object, not {type(value).__name__}")
    return value


def check_arguments(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Raise BadArguments when ``arguments`` break ``schema`` (JSON Schema, any draft it names)."""
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except SchemaError as error:
        raise BadArguments(f"the tool's own schema is invalid: {_short(error.message)}") from None
    try:
        worst = best_match(validator_class(schema).iter_errors(dict(arguments)))
    except RecursionError:
        raise BadArguments("the arguments are nested too deeply") from None
    if worst is not None:
        where = "".join(f"[{part!r}]" for part in worst.absolute_path) or " (top level)"
        raise BadArguments(f"the arguments do not fit the tool's schema at{where}: {_short(worst.message)}")


def _short(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"
