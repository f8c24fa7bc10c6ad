"""A tool is a small, declared thing: what it is called, what it takes, what it does, where it runs.

The run loop knows tools only through this shape: a ``ToolSpec`` (the
declaration, which is also what ``GET tools`` lists and what the model is
offered) and, for a tool the server runs itself, one ``run``. Page tools
(run by the panel in its notebook) are a ``ToolSpec`` alone here; the panel
mirrors the same declaration.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .policy import Approval, Effect

__all__ = ["NAME", "OutcomeUnknown", "RunsOn", "ServerTool", "ToolFailed", "ToolSpec"]

# What every model API accepts as a function name (OpenAI's rule is the narrowest).
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RunsOn(str, enum.Enum):
    """Who executes a call: the server, or the one page that claims it."""

    SERVER = "server"
    PAGE = "page"


@dataclass(frozen=True)
class ToolSpec:
    """A tool's declaration."""

    name: str
    description: str
    input_schema: Mapping[str, Any]
    effect: Effect
    runs_on: RunsOn = RunsOn.SERVER
    source: str = "builtin"  # or "mcp:<server>"
    extra: Mapping[str, Any] = field(default_factory=dict)  # source-specific facts (an MCP tool's own name)

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(f"a tool name must match {NAME.pattern}, not {self.name!r}")
        if self.input_schema.get("type", "object") != "object":
            raise ValueError(f"tool {self.name}: input_schema must describe an object")

    @classmethod
    def closed(
        cls,
        name: str,
        description: str,
        effect: Effect,
        properties: Mapping[str, Any],
        required: list[str],
        runs_on: RunsOn = RunsOn.SERVER,
    ) -> ToolSpec:
        """A built-in tool whose arguments are exactly ``properties`` (no others accepted)."""
        schema = {
            "type": "object",
            "properties": dict(properties),
            "required": required,
            "additionalProperties": False,
        }
        return cls(name, description, schema, effect, runs_on)

    def to_json(self, approval: Approval) -> dict[str, Any]:
        """The wire ``Tool``, with the approval this deployment gives it."""
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
            "runs_on": self.runs_on.value,
            "effect": self.effect.value,
            "approval": approval.value,
            "source": self.source,
        }


class ToolFailed(Exception):
    """A tool ran and failed; the call ends ``error`` with this type and detail, which the model reads."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class OutcomeUnknown(ToolFailed):
    """The call was sent and its executor vanished or went silent: it may or may not have acted.

    The call ends ``unknown`` and is never re-run by itself; the model is told.
    """


class ServerTool(Protocol):
    """A tool the server executes itself.

    ``run`` gets arguments already checked against ``spec.input_schema`` and
    returns the result as text (bounded later); it raises ToolFailed for an
    outcome the model should hear as an error. Anything else it raises is a
    bug, reported to the model as an internal error, never a 500.
    """

    @property
    def spec(self) -> ToolSpec: ...

    async def run(self, arguments: Mapping[str, Any]) -> str: ...
