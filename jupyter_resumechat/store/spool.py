"""Finals the database could not take before the server stopped, kept in files.

When the database is down as the server stops, each running reply's final
message (``interrupted``, all its text) is written here, one JSON file per
message, and committed at the next start, or as soon as the database is back
(docs/protocol.md#persist-before-announce).  A file is removed only once the database holds the message,
or once the reply turned out to belong to someone else.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import anyio

from ..models import Message

__all__ = ["Spool", "SpooledFinal"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpooledFinal:
    """A final message and the instance that owned its reply."""

    message: Message
    owner: str
    path: Path


class Spool:
    """A directory of unsaved finals; all file I/O off the event loop."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def put(self, message: Message, owner: str) -> None:
        """Write atomically (temp file + rename), so a crash leaves no half file."""
        data = json.dumps({"owner": owner, "message": message.to_json()}, ensure_ascii=False)
        await anyio.to_thread.run_sync(self._write, f"{message.id}.json", data)

    def _write(self, name: str, data: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temp = self.directory / f".{name}.tmp"
        with open(temp, "w", encoding="utf-8") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.directory / name)

    async def pending(self) -> list[SpooledFinal]:
        """Every readable spooled final; unreadable files are logged and kept."""
        return await anyio.to_thread.run_sync(self._read_all)

    def _read_all(self) -> list[SpooledFinal]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                found.append(SpooledFinal(Message.from_json(data["message"]), data["owner"], path))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("resumechat: cannot read the unsaved reply %s: %s", path, exc)
        return found

    async def remove(self, final: SpooledFinal) -> None:
        await anyio.to_thread.run_sync(lambda: final.path.unlink(missing_ok=True))
