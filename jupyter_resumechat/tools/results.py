"""A tool's result as the model and the people read it: plain text, bounded.

Results are untrusted input (a file, a cell's output, an MCP server's answer):
they are kept as text, never rendered as live HTML, and cut to
``tool_result_chars`` with a note saying how much was left out, so one
enormous result cannot fill the context window or the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ToolResult", "bound_result", "mcp_text"]


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


def mcp_text(result: Any) -> str:
    """A CallToolResult as plain text: text blocks as they are, anything else named, never live HTML."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{block.mime_type}, {len(block.data) * 3 // 4:,} bytes]")
        elif kind == "resource":
            inner = block.resource
            parts.append(getattr(inner, "text", None) or f"[resource {inner.uri}]")
        else:
            parts.append(f"[{kind or 'content'}]")
    if not parts and getattr(result, "structured_content", None) is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)
