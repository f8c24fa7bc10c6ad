"""A tool's result as the model and the people read it: plain text, bounded.

Results are untrusted input (a file, a cell's output, an MCP server's answer):
they are kept as text, never rendered as live HTML, and cut to
``tool_result_chars`` with a note saying how much was left out, so one
enormous result cannot fill the context window or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ToolResult", "bound_result"]


@dataclass(frozen=True)
class ToolResult:
    """What a finished call gave back (``ToolCall.result`` on the wire)."""

    content: str
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"content": self.content, "truncated": self.truncated}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolResult:
        return cls(str(data.get("content", "")), bool(data.get("truncated", False)))


def bound_result(text: str, limit: int) -> ToolResult:
    """``text`` cut to ``limit`` characters (0: no limit), ending with how much it kept of how much."""
    if limit <= 0 or len(text) <= limit:
        return ToolResult(text)
    keep = max(limit - len(_note(limit, len(text))), 0)
    # Python strings are code points, so a cut never splits a UTF-16 pair.
    return ToolResult(text[:keep] + _note(keep, len(text)), truncated=True)


def _note(kept: int, whole: int) -> str:
    return f"\n[… cut: the first {kept:,} of {whole:,} characters]"
