"""Redis Streams StreamStore: any server instance serves any stream.

One object made of parts, one concept each: the key layout and a stream's
info (``rediskeys.py``), the event log (``redisevents.py``: open, append,
finish, read), the steps of agent runs (``redistools.py``: tool events,
parking), leases and the abort channel (``redisleases.py``), the shared
``XREAD`` of live readers (``watcher.py``) and coalesced appends
(``batcher.py``).  This module builds them on one connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from ..background import Loop
from .batcher import AppendBatcher
from .logformat import LogFormat
from .redisevents import FINISH, OPEN
from .rediskeys import RETRIED, guarded
from .redisleases import CLAIM, RedisLeases
from .redislog import APPEND
from .redistools import APPEND_TOOL, PARK, RECLAIM, RedisRunSteps
from .watcher import StreamWatcher

__all__ = ["RedisStreamStore"]


class RedisStreamStore(RedisRunSteps, RedisLeases):
    """StreamStore on Redis Streams; see ``StreamStore`` for the guarantees."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        replay_window: int = 10_000,
        lease: float = 10.0,
        max_connections: int = 32,
        prefix: str = "resumechat:",
        client: aioredis.Redis | None = None,
        coalesce: float = 0.0,
    ) -> None:
        self.replay_window = replay_window
        self.lease = lease  # seconds a stream's owner (or adopter) holds it without renewal
        self.prefix = prefix
        self.where = _where(url)
        self.redis = client or aioredis.Redis.from_pool(_pool(url, max_connections))
        self._append = self.redis.register_script(APPEND)
        self._finish = self.redis.register_script(FINISH)
        self._open = self.redis.register_script(OPEN)
        self._claim = self.redis.register_script(CLAIM)
        self._append_tool = self.redis.register_script(APPEND_TOOL)
        self._park = self.redis.register_script(PARK)
        self._reclaim = self.redis.register_script(RECLAIM)
        self._next_seq = {}
        # coalesce: seconds a piece may wait to join others in one round trip; 0: one call per piece
        self._batcher = AppendBatcher(self._send_batches, coalesce, replay_window) if coalesce > 0 else None
        self._flushed = {}
        self._watcher = StreamWatcher(
            self.redis, lambda sid: self._keys(sid)[0], local=self._flushed.__contains__
        )
        self._format = LogFormat(self.redis, f"{prefix}format", self.where)
        self._abort_callback: Callable[[str], None] | None = None
        self._closing = False

    def loops(self) -> list[Loop]:
        """The flusher of coalesced appends, the shared ``XREAD`` and the abort
        channel: run by the owner (the JobManager), never by the store."""
        found = [self._watcher.loop(), self.abort_loop()]
        return found if self._batcher is None else [self._batcher.loop(), *found]

    @guarded
    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        """Release the connections.  The owner stops ``loops()`` first: what the
        flusher still had queued is sent by then."""
        self._closing = True
        if self._batcher is not None:
            self._batcher.close()
        self._watcher.stop()
        await self.redis.aclose()


def _pool(url: str, max_connections: int) -> aioredis.BlockingConnectionPool:
    """A bounded pool whose callers wait for a free connection rather than fail:
    live readers share one connection (``StreamWatcher``), so the pool's size
    bounds concurrent commands, not streams.  Every command is retried on a
    connection error (appends are guarded by their sequence number)."""
    return aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20,
        decode_responses=False,
        socket_connect_timeout=2,
        socket_timeout=10,
        health_check_interval=5,
        retry_on_error=list(RETRIED),
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 8, RETRIED),
    )


def _where(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
