"""The steps of agent runs in the Redis event log: ``tool`` events, and parking a run that waits.

A ``tool`` event is an entry of its own (field ``c``: the call's JSON), numbered
after every piece queued before it.  The meta hash keeps each call's place
(``at:<id>``: the seq and text offset of its first event) and latest state
(``call:<id>``), so a snapshot can carry ``parts``.  A parked stream gives up
its lease (out of the ``leases`` set, so no server takes it for an orphan) and
stays open for its readers; whoever continues the run reclaims it with a new
generation, which fences out anyone else.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from ..errors import LeaseLost, NotFound
from ..models import Event, EventKind
from .base import StreamInfo
from .clock import redis_now_ms
from .redisevents import RedisEventLog
from .rediskeys import guarded

__all__ = ["APPEND_TOOL", "PARK", "RECLAIM", "RedisRunSteps"]

# KEYS: events, meta.  ARGV: gen, window, call id, JSON, text offset, field ("c": a tool
# event, whose place and latest state the meta hash keeps; "a": a tool_arguments delta).
APPEND_TOOL = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
if redis.call('HGET', KEYS[2], 'gen') ~= ARGV[1] then return -2 end
if redis.call('HEXISTS', KEYS[2], 'final') == 1 then return -1 end
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq')) + 1
redis.call('HSET', KEYS[2], 'seq', seq)
if ARGV[6] == 'c' then
  redis.call('HSETNX', KEYS[2], 'at:' .. ARGV[3], seq .. ':' .. ARGV[5])
  redis.call('HSET', KEYS[2], 'call:' .. ARGV[3], ARGV[4])
end
local floor = seq - tonumber(ARGV[2])
if floor < 1 then floor = 1 end
redis.call('XADD', KEYS[1], 'MINID', floor, seq .. '-0', ARGV[6], ARGV[4])
return seq
"""

# KEYS: leases, meta.  ARGV: stream id, gen.
PARK = """
if redis.call('HGET', KEYS[2], 'gen') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
"""

# KEYS: leases, meta.  ARGV: stream id, lease deadline (ms).  The new generation, or -1.
RECLAIM = """
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('HEXISTS', KEYS[2], 'final') == 1 then return -1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return redis.call('HINCRBY', KEYS[2], 'gen', 1)
"""


class RedisRunSteps(RedisEventLog):
    """``append_tool``, ``park`` and ``reclaim`` on Redis."""

    _append_tool: Any
    _park: Any
    _reclaim: Any

    @guarded
    async def append_tool(self, stream_id: str, call: dict[str, Any], offset: int, *, token: int = 1) -> int:
        event = Event(0, EventKind.TOOL, {"call": call})
        return await self._sparse(stream_id, "c", call["id"], call, offset, token, event)

    @guarded
    async def append_arguments(self, stream_id: str, call_id: str, text: str, *, token: int = 1) -> int:
        piece = {"call_id": call_id, "text": text}
        event = Event(0, EventKind.DELTA, {"tool_arguments": piece})
        return await self._sparse(stream_id, "a", call_id, piece, 0, token, event)

    async def _sparse(
        self,
        stream_id: str,
        field: str,
        call_id: str,
        data: dict[str, Any],
        offset: int,
        token: int,
        event: Event,
    ) -> int:
        """An entry of its own, after every piece queued before it."""
        if self._batcher is not None:
            await self._batcher.drain(stream_id)  # the pieces before it get their ids first
        events, _, _, meta = self._keys(stream_id)
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        seq = int(
            await self._append_tool(
                keys=[events, meta], args=[token, self.replay_window, call_id, text, offset, field]
            )
        )
        if seq == -2:
            raise LeaseLost(f"stream {stream_id!r} was adopted by another server")
        if seq < 0:
            raise NotFound(f"stream {stream_id!r} is unknown, expired or finished")
        self._next_seq[stream_id] = seq + 1
        if self._batcher is not None:
            self._batcher.forget(stream_id)
            self._batcher.start(stream_id, seq + 1)
        if stream_id in self._flushed:
            self._flushed[stream_id] = seq
            self._watcher.publish(stream_id, [dataclasses.replace(event, id=seq)])
        return seq

    @guarded
    async def park(self, stream_id: str, token: int) -> None:
        if self._batcher is not None:
            await self._batcher.drain(stream_id)
            self._batcher.forget(stream_id)
        await self._park(keys=[f"{self.prefix}leases", self._keys(stream_id)[3]], args=[stream_id, token])
        self._next_seq.pop(stream_id, None)
        self._flushed.pop(stream_id, None)  # its readers here read Redis again, like any other

    @guarded
    async def reclaim(self, stream_id: str) -> StreamInfo | None:
        deadline = await redis_now_ms(self.redis) + int(self.lease * 1000)
        keys = [f"{self.prefix}leases", self._keys(stream_id)[3]]
        token = int(await self._reclaim(keys=keys, args=[stream_id, deadline]))
        if token < 0:
            return None
        try:
            info = await self.info(stream_id)
        except NotFound:
            return None
        seq = await self._seq(stream_id)
        self._next_seq[stream_id] = seq + 1
        self._flushed[stream_id] = seq
        if self._batcher is not None:
            self._batcher.start(stream_id, seq + 1)
        return dataclasses.replace(info, token=token, last_event_id=seq)
