"""What the parts of the Redis StreamStore share: the key layout, a stream's
info, and the guard that names Redis when it is down.

Keys, with a ``{stream id}`` hash tag so a stream's keys share a cluster slot::

    {p}{sid}:events   Redis Stream; entry id "<seq>-0"; fields t (text), r (reasoning)
                      or f (final message JSON); trimmed to about replay_window
    {p}{sid}:text     the content so far (APPEND)      } the snapshot
    {p}{sid}:reason   the reasoning so far (APPEND)    }
    {p}{sid}:meta     hash: conversation, message, owner, started, seq, final, gen
    {p}conv:{cid}     the conversation's open stream (SET NX: one per conversation)
    {p}leases         sorted set: stream id -> owner's lease deadline (ms, Redis's TIME)
    {p}abort          pub/sub channel: stream ids some server wants aborted
    {p}format         hash: the log format written here and the oldest that reads it
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, TypeVar

from redis.exceptions import BusyLoadingError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from typing_extensions import ParamSpec

from ..errors import NotFound, Unavailable
from ..models import parse_time
from .base import StreamInfo

__all__ = ["RETRIED", "RedisKeys", "guarded"]

_FIELDS = ("conversation", "message", "owner", "started", "seq", "final", "gen")
RETRIED = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)

_T = TypeVar("_T")
_S = TypeVar("_S", bound="RedisKeys")
_P = ParamSpec("_P")


def guarded(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Redis down past the client's retries is ``Unavailable`` (503), named."""

    @functools.wraps(method)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except (*RETRIED, ReadOnlyError, OutOfMemoryError) as exc:
            raise Unavailable(f"Redis is unavailable ({self.where}): {exc}") from exc

    return wrapper


class RedisKeys:
    """The client, the key layout and a stream's metadata (see module docstring)."""

    prefix: str
    where: str  # the URL without credentials, for messages
    lease: float  # seconds a stream's owner (or adopter) holds it without renewal
    # Any: redis-py's stubs do not model decode_responses=False (every reply is bytes here)
    redis: Any

    def _keys(self, sid: str) -> list[str]:
        base = f"{self.prefix}{{{sid}}}"
        return [f"{base}:events", f"{base}:text", f"{base}:reason", f"{base}:meta"]

    def _conv(self, cid: str) -> str:
        return f"{self.prefix}conv:{cid}"

    async def _meta(self, sid: str) -> dict[str, bytes]:
        values = await self.redis.hmget(self._keys(sid)[3], list(_FIELDS))
        if values[1] is None:
            raise NotFound(f"stream {sid!r} is unknown or has expired")
        return {k: v for k, v in zip(_FIELDS, values, strict=True) if v is not None}

    @guarded
    async def info(self, stream_id: str) -> StreamInfo:
        meta = await self._meta(stream_id)
        return StreamInfo(
            stream_id,
            meta["conversation"].decode(),
            meta["message"].decode(),
            parse_time(meta["started"].decode()),
            owner=meta["owner"].decode(),
            last_event_id=int(meta["seq"]),
            finished="final" in meta,
            token=int(meta.get("gen", b"1")),
        )
