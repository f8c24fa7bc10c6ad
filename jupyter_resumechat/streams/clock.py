"""Redis's clock: the one clock every server sharing Redis reads for stream leases.

A stream's lease is a deadline in a sorted set, compared by every server
that might adopt the stream; deadlines written from each host's own clock
would make a host running ahead adopt the live streams of all the others
(docs/protocol.md#guarantees invariant 13).  So deadlines are written and compared as Redis's
``TIME``, in milliseconds since the epoch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["redis_now_ms"]


async def redis_now_ms(redis: Any) -> int:
    """Redis's current time in milliseconds since the epoch (``TIME``)."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000
