"""The server's file tools, through Jupyter's ContentsManager.

Going through the ContentsManager (not the file system) keeps the tools where
the person's own file browser is: the server's root, its hidden-file rule, and
whatever storage the deployment configured (S3, a database). A path is
relative to that root; one that climbs out (``..``) is refused before the
ContentsManager sees it.
"""

from __future__ import annotations

import inspect
import posixpath
from collections.abc import Mapping
from typing import Any, Protocol

from .base import ToolFailed, ToolSpec
from .policy import Effect

__all__ = ["MAX_READ_BYTES", "Contents", "FileList", "FileRead", "FileWrite", "file_tools"]

MAX_READ_BYTES = 2_000_000  # a larger file is refused, not loaded into the server's memory
_PATH = {"type": "string", "maxLength": 1024, "description": "a path relative to the server's root"}


class Contents(Protocol):
    """The part of Jupyter's (Async)ContentsManager the tools use; either flavour works."""

    def get(
        self, path: str, content: bool = True, type: str | None = None, format: str | None = None
    ) -> Any: ...

    def save(self, model: dict[str, Any], path: str) -> Any: ...


async def _call(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


def _clean(path: str) -> str:
    parts = [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ToolFailed("forbidden", f"{path!r} leaves the server's root")
    return posixpath.join(*parts) if parts else ""


async def _contents(action: Any, path: str, root: str = "") -> Any:
    """Run a ContentsManager call, its HTTP-shaped errors turned into the call's error.

    The reason names paths as the person sees them, never the server's own folder (``root``).
    """
    try:
        return await _call(action())
    except ToolFailed:
        raise
    except Exception as error:  # the ContentsManager speaks tornado's HTTPError; the model hears its reason
        status = getattr(error, "status_code", None)
        reason = getattr(error, "log_message", None) or str(error) or type(error).__name__
        kind = {404: "not_found", 403: "forbidden", 400: "invalid"}.get(status or 0, "failed")
        if status == 404:
            reason = f"no such file or directory: {path or '/'}"
        elif root:
            reason = reason.replace(root.rstrip("/") + "/", "").replace(root, "/")
        raise ToolFailed(kind, reason) from None


class _FileTool:
    def __init__(self, contents: Contents, spec: ToolSpec) -> None:
        self.contents = contents
        self.spec = spec
        self.root = str(getattr(contents, "root_dir", "") or "")

    async def _do(self, action: Any, path: str) -> Any:
        return await _contents(action, path, self.root)


class FileList(_FileTool):
    """``file_list``: a directory's entries, one a line: type, size, path."""

    async def run(self, arguments: Mapping[str, Any]) -> str:
        path = _clean(str(arguments.get("path", "")))
        model = await self._do(lambda: self.contents.get(path, content=True, type="directory"), path)
        lines = []
        for entry in sorted(
            model.get("content") or [], key=lambda e: (e.get("type") != "directory", e["path"])
        ):
            size = entry.get("size")
            lines.append(f"{entry.get('type', '?')}\t{'' if size is None else size}\t{entry['path']}")
        return "\n".join(lines) if lines else f"(no entries in {path or '/'})"


class FileRead(_FileTool):
    """``file_read``: a text file's content."""

    async def run(self, arguments: Mapping[str, Any]) -> str:
        path = _clean(str(arguments["path"]))
        head = await self._do(lambda: self.contents.get(path, content=False, type="file"), path)
        size = head.get("size")
        if isinstance(size, int) and size > MAX_READ_BYTES:
            raise ToolFailed(
                "too_large", f"{path} is {size:,} bytes; file_read reads up to {MAX_READ_BYTES:,}"
            )
        # No format asked: the ContentsManager answers text when the file decodes, base64 when not.
        model = await self._do(lambda: self.contents.get(path, content=True, type="file"), path)
        if model.get("format") != "text":
            raise ToolFailed("binary", f"{path} is not a text file")
        return str(model.get("content") or "")


class FileWrite(_FileTool):
    """``file_write``: create or replace a text file (asks for approval by default)."""

    async def run(self, arguments: Mapping[str, Any]) -> str:
        path = _clean(str(arguments["path"]))
        if not path:
            raise ToolFailed("invalid", "a file needs a name")
        content = str(arguments["content"])
        model = {"type": "file", "format": "text", "content": content}
        saved = await self._do(lambda: self.contents.save(model, path), path)
        return f"wrote {len(content.encode('utf-8')):,} bytes to {saved.get('path', path)}"


def file_tools(contents: Contents) -> list[FileList | FileRead | FileWrite]:
    """The three file tools over ``contents``."""
    return [
        FileList(
            contents,
            ToolSpec.closed(
                "file_list",
                "List a directory of the Jupyter server's files.",
                Effect.READ,
                {"path": _PATH},
                [],
            ),
        ),
        FileRead(
            contents,
            ToolSpec.closed(
                "file_read",
                "Read a text file from the Jupyter server's files.",
                Effect.READ,
                {"path": _PATH},
                ["path"],
            ),
        ),
        FileWrite(
            contents,
            ToolSpec.closed(
                "file_write",
                "Create or replace a text file in the Jupyter server's files.",
                Effect.WRITE,
                {"path": _PATH, "content": {"type": "string", "maxLength": 5_000_000}},
                ["path", "content"],
            ),
        ),
    ]
