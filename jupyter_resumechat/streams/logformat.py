"""Which event-log formats share one Redis, checked at start and on use.

Servers of two versions share Redis during a rolling upgrade (docs/protocol.md#upgrades).
``{prefix}format`` (a hash) says which log format the newest writer uses and
the oldest format whose readers read it correctly (``readable_by``): a server
older than that refuses with a 503 naming both, instead of misreading entries
it does not know.  Each server writes its own format there if nobody has;
a newer one adding an entry kind writes it only once no older server remains
(the database's instances table says so), then raises ``readable_by``.  The
check is repeated at most every ``CHECK_EVERY`` seconds, on opens and reads.

Formats: 1, one piece per entry (fields ``t``/``r``); 2, batches (``p``/``k``)
and the final (``f``), which every server since batching writes and reads 1.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import Unavailable

__all__ = ["CHECK_EVERY", "LOG_FORMAT", "READABLE_BY", "LogFormat", "format_problem"]

LOG_FORMAT = 2
READABLE_BY = 2  # the oldest format whose readers read what this server writes
CHECK_EVERY = 5.0


def format_problem(version: int, readable_by: int, where: str, ours: int = LOG_FORMAT) -> str | None:
    """Why a server reading log format ``ours`` must not use this Redis; None if it may."""
    if readable_by <= ours:
        return None
    return (
        f"Redis ({where}) holds event logs in format {version}, readable by servers of "
        f"log format {readable_by} or newer; this server reads format {ours}: upgrade "
        "jupyter-resumechat on this server (a newer server wrote them, so this one "
        "refuses rather than misread them)"
    )


class LogFormat:
    """The format key of one prefix, and this server's verdict on it."""

    def __init__(self, redis: Any, key: str, where: str) -> None:
        self.redis = redis
        self.key = key
        self.where = where
        self._checked_at: float | None = None
        self._problem: str | None = None

    async def check(self) -> None:
        """``Unavailable`` naming both formats if this server may not use the logs."""
        now = asyncio.get_running_loop().time()
        if self._checked_at is None or now - self._checked_at >= CHECK_EVERY:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hsetnx(self.key, "version", LOG_FORMAT)
                pipe.hsetnx(self.key, "readable_by", READABLE_BY)
                pipe.hmget(self.key, ["version", "readable_by"])
                *_, (version, readable_by) = await pipe.execute()
            self._problem = format_problem(int(version), int(readable_by), self.where)
            self._checked_at = now
        if self._problem is not None:
            raise Unavailable(self._problem)
