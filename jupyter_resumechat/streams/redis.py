"""Redis Streams StreamStore: any server instance serves any stream.

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

Appends and the final are Lua scripts, so the sequence number, the snapshot
and the log never disagree.  Both are fenced by ``gen``, the lease generation
(bumped by an adoption), and a batch of appends carries the sequence numbers
it must get, so the client may retry any command after a connection error (a
Redis restart leaves every pooled connection stale) without writing twice.
With ``coalesce`` > 0 the pieces of every stream are sent in batches, one
pipeline per round trip (``batcher.py``); the log's format is ``redislog.py``.
Live readers on one server share one blocking ``XREAD`` (``watcher.py``), so
a thousand readers cost one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, TypeVar
from urllib.parse import urlsplit

from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import BusyLoadingError, NoScriptError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from typing_extensions import ParamSpec

from ..errors import GenerationActive, LeaseLost, NotFound, ResumeChatError, Unavailable
from ..models import Event, EventKind, format_time, parse_time
from .base import ReadResult, StreamInfo
from .batcher import AppendBatcher, Batch, Outcome
from .clock import redis_now_ms
from .logformat import LogFormat
from .redislog import APPEND, batch_args, batch_events, entry_events
from .watcher import StreamWatcher

__all__ = ["RedisStreamStore"]

log = logging.getLogger(__name__)

_FINISH = """
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if redis.call('HGET', KEYS[4], 'gen') ~= ARGV[3] then return -2 end
if redis.call('HEXISTS', KEYS[4], 'final') == 1 then return tonumber(redis.call('HGET', KEYS[4], 'seq')) end
local seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
redis.call('XADD', KEYS[1], seq .. '-0', 'f', ARGV[1])
redis.call('HSET', KEYS[4], 'final', ARGV[1])
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
if redis.call('GET', KEYS[5]) == ARGV[4] then redis.call('DEL', KEYS[5]) end
redis.call('ZREM', KEYS[6], ARGV[4])
return seq
"""

_OPEN = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  local meta = ARGV[2] .. '{' .. current .. '}:meta'
  if redis.call('EXISTS', meta) == 1 and redis.call('HEXISTS', meta, 'final') == 0 then return current end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'conversation', ARGV[3], 'message', ARGV[4], 'owner', ARGV[5],
           'started', ARGV[6], 'seq', 0, 'gen', ARGV[7])
redis.call('SET', KEYS[3], '')
redis.call('SET', KEYS[4], '')
redis.call('ZADD', KEYS[5], ARGV[8], ARGV[1])
return ''
"""

_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('HEXISTS', KEYS[2], 'final') == 1 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return redis.call('HINCRBY', KEYS[2], 'gen', 1)
"""

_FIELDS = ("conversation", "message", "owner", "started", "seq", "final", "gen")
_RETRIED = (RedisConnectionError, RedisTimeoutError, BusyLoadingError)

_T = TypeVar("_T")
_S = TypeVar("_S", bound="RedisStreamStore")
_P = ParamSpec("_P")


def _guarded(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Redis down past the client's retries is ``Unavailable`` (503), named."""

    @functools.wraps(method)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except (*_RETRIED, ReadOnlyError, OutOfMemoryError) as exc:
            raise Unavailable(f"Redis is unavailable ({self.where}): {exc}") from exc

    return wrapper


class RedisStreamStore:
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
        # Any: redis-py's stubs do not model decode_responses=False (every reply is bytes here)
        self.where = _where(url)
        self.redis: Any = client or aioredis.Redis.from_pool(_pool(url, max_connections))
        self._append = self.redis.register_script(APPEND)
        self._finish = self.redis.register_script(_FINISH)
        self._open = self.redis.register_script(_OPEN)
        self._claim = self.redis.register_script(_CLAIM)
        self._next_seq: dict[str, int] = {}  # streams this server writes: the seq due next
        # coalesce: seconds a piece may wait to join others in one round trip; 0: one call per piece
        self._batcher = AppendBatcher(self._send_batches, coalesce, replay_window) if coalesce > 0 else None
        self._flushed: dict[str, int] = {}  # streams this server writes: their last id in Redis
        self._watcher = StreamWatcher(
            self.redis, lambda sid: self._keys(sid)[0], local=self._flushed.__contains__
        )
        self._format = LogFormat(self.redis, f"{prefix}format", self.where)  # checked on opens and reads
        self._abort_callback: Callable[[str], None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._closing = False

    def _keys(self, sid: str) -> list[str]:
        base = f"{self.prefix}{{{sid}}}"
        return [f"{base}:events", f"{base}:text", f"{base}:reason", f"{base}:meta"]

    def _conv(self, cid: str) -> str:
        return f"{self.prefix}conv:{cid}"

    @_guarded
    async def open(self, info: StreamInfo) -> None:
        """One script: take the conversation (or a key left by a stream that ended
        or expired), create the stream, and start its lease, so a stream whose
        owner dies at once is still found and adopted."""
        await self._format.check()
        _, text, reason, meta = self._keys(info.stream_id)
        keys = [self._conv(info.conversation_id), meta, text, reason, f"{self.prefix}leases"]
        args: list[str | int] = [
            info.stream_id,
            self.prefix,
            info.conversation_id,
            info.message_id,
            info.owner,
            format_time(info.started_at),
            info.token,
            await redis_now_ms(self.redis) + int(self.lease * 1000),
        ]
        current = (await self._open(keys=keys, args=args)).decode()
        if current:
            raise GenerationActive("a generation is already active", current)
        self._next_seq[info.stream_id] = 1
        self._flushed[info.stream_id] = 0
        if self._batcher is not None:
            self._batcher.start(info.stream_id, 1)

    @_guarded
    async def append(self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1) -> int:
        """Coalescing: numbered and queued at once, sent with the next batch; the
        failure of a batch is raised by the next append.  Else one script call."""
        if self._batcher is not None:
            if not self._batcher.knows(stream_id):
                self._batcher.start(stream_id, await self._seq(stream_id) + 1)
            return await self._batcher.add(stream_id, token, text, reasoning)
        due = self._next_seq.get(stream_id) or await self._seq(stream_id) + 1
        outcome = (await self._send_batches([(stream_id, Batch(token, due, [text], [reasoning]))]))[0]
        if isinstance(outcome, ResumeChatError):
            raise outcome
        self._next_seq[stream_id] = outcome + 1
        return outcome

    def append_nowait(
        self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1
    ) -> int | None:
        """Coalescing, once the stream is known and its queue not full: queued at once."""
        if self._batcher is None or not self._batcher.knows(stream_id):
            return None
        return self._batcher.add_nowait(stream_id, token, text, reasoning)

    async def _seq(self, sid: str) -> int:
        """The stream's last id in Redis (a stream this server did not open)."""
        seq = await self.redis.hget(self._keys(sid)[3], "seq")
        if seq is None:
            raise NotFound(f"stream {sid!r} is unknown, expired or finished")
        return int(seq)

    async def _send_batches(self, work: list[tuple[str, Batch]]) -> list[Outcome]:
        """One pipeline, one script call per batch; each batch's last id or its error."""
        try:
            results = await self._pipeline(work)
            if any(isinstance(r, NoScriptError) for r in results):  # Redis restarted: load, send again
                await self.redis.script_load(APPEND)
                results = await self._pipeline(work)
        except (*_RETRIED, ReadOnlyError, OutOfMemoryError) as exc:
            raise Unavailable(f"Redis is unavailable ({self.where}): {exc}") from exc
        outcomes = [_outcome(sid, result, self.where) for (sid, _), result in zip(work, results, strict=True)]
        for (sid, batch), outcome in zip(work, outcomes, strict=True):
            self._landed(sid, batch, outcome)
        return outcomes

    def _landed(self, sid: str, batch: Batch, outcome: Outcome) -> None:
        """Hand what landed to this server's readers; a stream refused is no longer ours to announce."""
        if isinstance(outcome, (LeaseLost, NotFound)):
            self._flushed.pop(sid, None)  # its readers go back to XREAD (another server's final)
        elif isinstance(outcome, int) and sid in self._flushed and outcome > self._flushed[sid]:
            self._flushed[sid] = outcome
            self._watcher.publish(sid, batch_events(batch))

    async def _pipeline(self, work: list[tuple[str, Batch]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid, batch in work:
                pipe.evalsha(self._append.sha, 4, *self._keys(sid), *batch_args(batch, self.replay_window))
            return list(await pipe.execute(raise_on_error=False))

    @_guarded
    async def finish(self, stream_id: str, message: dict[str, Any], ttl: float, *, token: int = 1) -> int:
        """The pieces still queued go first (raising what they raise), then the final."""
        if self._batcher is not None:
            await self._batcher.drain(stream_id)
        final = json.dumps(message, ensure_ascii=False)
        conversation = await self.redis.hget(self._keys(stream_id)[3], "conversation")
        keys = [*self._keys(stream_id), self._conv((conversation or b"").decode()), f"{self.prefix}leases"]
        seq = int(await self._finish(keys=keys, args=[final, max(1, int(ttl * 1000)), token, stream_id]))
        if seq == -2:
            raise LeaseLost(f"stream {stream_id!r} was adopted by another server")
        if seq < 0:
            raise NotFound(f"stream {stream_id!r} is unknown or has expired")
        self._next_seq.pop(stream_id, None)
        if self._batcher is not None:
            self._batcher.forget(stream_id)
        if self._flushed.pop(stream_id, None) is not None:
            self._watcher.publish(stream_id, [Event(seq, EventKind.FINAL, {"message": message})])
        return seq

    async def _release(self, cid: str, sid: str) -> None:
        key = self._conv(cid)
        if await self.redis.get(key) == sid.encode():
            await self.redis.delete(key)

    @_guarded
    async def read_after(self, stream_id: str, last_id: int | None, timeout: float) -> ReadResult:
        await self._format.check()
        if self._batcher is not None and self._batcher.pending(stream_id):
            with contextlib.suppress(ResumeChatError):  # what this server accepted reads back at once
                await self._batcher.drain(stream_id)
        events = await self._read(stream_id, last_id)
        if not events and timeout > 0 and not await self._finished(stream_id):
            latest = self._flushed.get(stream_id)
            handed = await self._watcher.wait(stream_id, last_id or 0, timeout, latest)
            events = (
                handed if handed is not None and last_id is not None else await self._read(stream_id, last_id)
            )
        done = bool(events) and events[-1].kind is EventKind.FINAL
        if not events and last_id is not None:
            done = await self._finished_at(stream_id, last_id)
        return ReadResult(events, done)

    async def _read(self, sid: str, last_id: int | None) -> list[Event]:
        if last_id is not None and last_id >= 0:
            # no COUNT: approximate trimming may keep a little more than the window
            entries = await self.redis.xrange(self._keys(sid)[0], min=f"{last_id + 1}-0")
            if not entries:
                await self._meta(sid)  # NotFound when expired
                seq = int((await self.redis.hget(self._keys(sid)[3], "seq")) or 0)
                if last_id <= seq:
                    return []
            else:
                events = [event for entry in entries for event in entry_events(entry)]
                if events[0].id <= last_id + 1:  # the window still holds the next event
                    return [event for event in events if event.id > last_id]
        return await self._snapshot(sid)

    async def _snapshot(self, sid: str) -> list[Event]:
        _, text, reason, meta = self._keys(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(text)
            pipe.get(reason)
            pipe.hmget(meta, ["message", "seq", "final"])
            content, reasoning, (message, seq, final) = await pipe.execute()
        if message is None:
            raise NotFound(f"stream {sid!r} is unknown or has expired")
        last = int(seq) - (1 if final else 0)
        data = {
            "message_id": message.decode(),
            "content": (content or b"").decode(),
            "reasoning": (reasoning or b"").decode(),
            "status": json.loads(final)["status"] if final else "streaming",
        }
        out = [Event(last, EventKind.SNAPSHOT, data)]
        if final:
            out.append(Event(int(seq), EventKind.FINAL, {"message": json.loads(final)}))
        return out

    async def _finished(self, sid: str) -> bool:
        return bool(await self.redis.hexists(self._keys(sid)[3], "final"))

    async def _finished_at(self, sid: str, last_id: int) -> bool:
        seq, final = await self.redis.hmget(self._keys(sid)[3], ["seq", "final"])
        return final is not None and int(seq) <= last_id

    async def _meta(self, sid: str) -> dict[str, bytes]:
        values = await self.redis.hmget(self._keys(sid)[3], list(_FIELDS))
        if values[1] is None:
            raise NotFound(f"stream {sid!r} is unknown or has expired")
        return {k: v for k, v in zip(_FIELDS, values, strict=True) if v is not None}

    @_guarded
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

    @_guarded
    async def active(self, conversation_id: str) -> StreamInfo | None:
        sid = await self.redis.get(self._conv(conversation_id))
        if sid is None:
            return None
        try:
            return await self.info(sid.decode())
        except NotFound:
            return None

    @_guarded
    async def expire(self, stream_id: str) -> None:
        with contextlib.suppress(NotFound):
            info = await self.info(stream_id)
            await self._release(info.conversation_id, stream_id)
        await self.redis.delete(*self._keys(stream_id))
        await self.redis.zrem(f"{self.prefix}leases", stream_id)
        self._next_seq.pop(stream_id, None)
        self._flushed.pop(stream_id, None)
        if self._batcher is not None:
            self._batcher.forget(stream_id)
        self._watcher.forget(stream_id)

    # ownership across servers

    @_guarded
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
        if ours:
            await self.redis.zadd(f"{self.prefix}leases", ours)

    @_guarded
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

    @_guarded
    async def request_abort(self, stream_id: str) -> None:
        await self._meta(stream_id)
        await self.redis.publish(f"{self.prefix}abort", stream_id)

    def on_abort(self, callback: Callable[[str], None]) -> None:
        self._abort_callback = callback
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        """Relay abort requests to the callback until ``close``.

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

    @_guarded
    async def ping(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        self._closing = True
        if self._batcher is not None:
            await self._batcher.close()
        await self._watcher.close()
        if self._listener is not None:
            await asyncio.wait({self._listener}, timeout=5)
            if not self._listener.done():
                self._listener.cancel()
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
        retry_on_error=list(_RETRIED),
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 8, _RETRIED),
    )


def _where(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def _outcome(sid: str, result: Any, where: str) -> Outcome:
    """A script's answer for one batch: its last id, or the error that ends the stream's writes."""
    if isinstance(result, Exception):
        return Unavailable(f"Redis refused an append ({where}): {result}")
    seq = int(result)
    if seq == -2:
        return LeaseLost(f"stream {sid!r} was adopted by another server")
    if seq == -3:
        return NotFound(f"stream {sid!r} does not continue where this server left it")
    if seq < 0:
        return NotFound(f"stream {sid!r} is unknown, expired or finished")
    return seq
