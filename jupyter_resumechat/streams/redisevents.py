"""The event log of Redis streams: open, append, finish, read, expire.

Appends and the final are Lua scripts, so the sequence number, the snapshot
and the log never disagree.  Both are fenced by ``gen``, the lease generation
(bumped by an adoption), and a batch of appends carries the sequence numbers
it must get, so the client may retry any command after a connection error (a
Redis restart leaves every pooled connection stale) without writing twice.
With ``coalesce`` > 0 the pieces of every stream are sent in batches, one
pipeline per round trip (``batcher.py``); the log's format is ``redislog.py``.
Live readers on one server share one blocking ``XREAD`` (``watcher.py``), so
a thousand readers cost one connection.  The key layout is ``rediskeys.py``.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from redis.exceptions import NoScriptError, OutOfMemoryError, ReadOnlyError

from ..errors import GenerationActive, LeaseLost, NotFound, ResumeChatError, Unavailable
from ..models import Event, EventKind, format_time, parts_of
from .base import ReadResult, StreamInfo
from .batcher import AppendBatcher, Batch, Outcome
from .clock import redis_now_ms
from .logformat import LogFormat
from .rediskeys import RETRIED, RedisKeys, guarded
from .redislog import APPEND, batch_args, batch_events, entry_events, placed_calls
from .watcher import StreamWatcher

__all__ = ["FINISH", "OPEN", "RedisEventLog"]

FINISH = """
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

OPEN = """
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


class RedisEventLog(RedisKeys):
    """Writes and reads the numbered events of streams (see module docstring)."""

    replay_window: int
    _append: Any  # the scripts: APPEND, FINISH, OPEN
    _finish: Any
    _open: Any
    _next_seq: dict[str, int]  # streams this server writes: the seq due next
    _batcher: AppendBatcher | None  # None: one call per piece
    _flushed: dict[str, int]  # streams this server writes: their last id in Redis
    _watcher: StreamWatcher
    _format: LogFormat  # checked on opens and reads

    @guarded
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

    @guarded
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
        except (*RETRIED, ReadOnlyError, OutOfMemoryError) as exc:
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

    @guarded
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

    @guarded
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
            pipe.hgetall(meta)
            content, reasoning, fields = await pipe.execute()
        message, seq, final = fields.get(b"message"), fields.get(b"seq"), fields.get(b"final")
        if message is None:
            raise NotFound(f"stream {sid!r} is unknown or has expired")
        last = int(seq) - (1 if final else 0)
        data = {
            "message_id": message.decode(),
            "content": (content or b"").decode(),
            "reasoning": (reasoning or b"").decode(),
            "status": json.loads(final)["status"] if final else "streaming",
        }
        placed = placed_calls(fields)
        if placed:  # an agent run: its calls in their places (redistools.py)
            data["parts"] = parts_of(data["content"], data["reasoning"], placed)
        out = [Event(last, EventKind.SNAPSHOT, data)]
        if final:
            out.append(Event(int(seq), EventKind.FINAL, {"message": json.loads(final)}))
        return out

    async def _finished(self, sid: str) -> bool:
        return bool(await self.redis.hexists(self._keys(sid)[3], "final"))

    async def _finished_at(self, sid: str, last_id: int) -> bool:
        seq, final = await self.redis.hmget(self._keys(sid)[3], ["seq", "final"])
        return final is not None and int(seq) <= last_id

    @guarded
    async def active(self, conversation_id: str) -> StreamInfo | None:
        sid = await self.redis.get(self._conv(conversation_id))
        if sid is None:
            return None
        try:
            return await self.info(sid.decode())
        except NotFound:
            return None

    @guarded
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
