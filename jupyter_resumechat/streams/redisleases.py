"""Ownership of Redis streams across servers: leases and the abort channel.

A stream's lease starts when it is opened (``redisevents.py``) and its owner
renews it every tick; a server that finds a lapsed lease claims it (one
server wins each claim; the claim bumps ``gen``, which fences the old
owner's writes out).  Aborts are published on ``{p}abort`` and relayed to
the owner's callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..background import Loop
from ..errors import NotFound
from .base import StreamInfo
from .clock import redis_now_ms
from .rediskeys import RedisKeys, guarded

__all__ = ["CLAIM", "RedisLeases"]

log = logging.getLogger("jupyter_resumechat.streams.redis")

CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('HEXISTS', KEYS[2], 'final') == 1 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return redis.call('HINCRBY', KEYS[2], 'gen', 1)
"""


class RedisLeases(RedisKeys):
    """Renews, claims and aborts streams on behalf of their owners."""

    _claim: Any  # the CLAIM script
    _abort_callback: Callable[[str], None] | None
    _closing: bool  # the abort channel's loop ends

    @guarded
    async def renew(self, tokens: dict[str, int], lease: float) -> None:
        if not tokens:
            return
        sids = list(tokens)
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hget(self._keys(sid)[3], "gen")
            gens = await pipe.execute()
        deadline = await redis_now_ms(self.redis) + lease * 1000
        ours = {
            sid: deadline
            for sid, gen in zip(sids, gens, strict=True)
            if gen is not None and int(gen) == tokens[sid]
        }
        if ours:  # XX: only leases that exist; a stream parked meanwhile is not put back
            await self.redis.zadd(f"{self.prefix}leases", ours, xx=True)

    @guarded
    async def claim_orphans(self) -> list[StreamInfo]:
        """A claim re-scores the lease to the claimer's deadline (it does not remove
        it): should the adoption fail, the lease lapses again and another retries."""
        key = f"{self.prefix}leases"
        now = await redis_now_ms(self.redis)
        claimed = []
        for raw in await self.redis.zrangebyscore(key, "-inf", now):
            sid = raw.decode()
            args: list[str | float] = [sid, now, int(now + self.lease * 1000)]
            token = int(await self._claim(keys=[key, self._keys(sid)[3]], args=args))
            if token > 0:  # exactly one server wins each; the old owner's writes now fail
                with contextlib.suppress(NotFound):
                    claimed.append(dataclasses.replace(await self.info(sid), token=token))
        return claimed

    @guarded
    async def request_abort(self, stream_id: str) -> None:
        await self._meta(stream_id)
        await self.redis.publish(f"{self.prefix}abort", stream_id)

    def on_abort(self, callback: Callable[[str], None]) -> None:
        """``callback`` hears the aborts the channel's loop (``abort_loop``) relays."""
        self._abort_callback = callback

    def abort_loop(self) -> Loop:
        """The abort channel's listener, for the owner to run."""
        return Loop("resumechat-abort-channel", self._listen, self._stop_listening)

    def _stop_listening(self) -> None:
        self._closing = True

    async def _listen(self) -> None:
        """Relay abort requests to the callback until stopped.

        Polls with a timeout instead of being cancelled: redis-py's pub/sub
        can swallow a cancellation and hang the server's shutdown.
        """
        while not self._closing:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(f"{self.prefix}abort")
                    while not self._closing:
                        message = await pubsub.get_message(timeout=0.5)
                        if message is not None and self._abort_callback is not None:
                            self._abort_callback(message["data"].decode())
            except Exception:
                log.exception("resumechat: the abort channel failed; resubscribing")
                await asyncio.sleep(1)
