"""In-memory StreamStore: the embedded default for a single server.

Each stream keeps its text and reasoning as UTF-8 ``bytearray``s plus, for
the retained window, two arrays of end offsets (docs/protocol.md#cheap-streams): a delta is a
slice between two offsets, so the replay log costs 8 bytes per event rather
than an object per event.  Readers pull from the log at their own pace; a
reader that waits holds one future, woken by the next append, and a log has
at most one timer for its waiters' timeouts, which outlives their wake-ups:
a reader of a 20 pieces/s reply waits twenty times a second for a 15 s
keepalive, and a timer made and cancelled per wait (``asyncio.wait``) was
the loop's largest cost at 1,000 streams (B3).
"""

from __future__ import annotations

import asyncio
import dataclasses
from array import array
from collections.abc import Callable
from typing import Any

from ..background import Loop
from ..errors import GenerationActive, NotFound
from ..models import Event, EventKind, parts_of
from .base import ReadResult, StreamInfo

__all__ = ["MemoryStreamStore"]

_TEXT = {"text": ""}


class _Log:
    """The event log of one stream."""

    __slots__ = (
        "calls",
        "expiry",
        "final",
        "first",
        "info",
        "last_id",
        "reasoning",
        "reasoning_base",
        "reasoning_ends",
        "text",
        "text_base",
        "text_ends",
        "timer",
        "timer_at",
        "tool_events",
        "waiters",
    )

    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        self.text = bytearray()
        self.reasoning = bytearray()
        self.text_ends = array("L")
        self.reasoning_ends = array("L")
        self.first = 1  # id of the oldest retained delta
        self.text_base = 0  # text length before the oldest retained delta
        self.reasoning_base = 0
        self.last_id = 0  # id of the newest delta
        self.final: Event | None = None
        self.waiters: list[tuple[float, asyncio.Future[None]]] = []  # (deadline, its future)
        self.timer: asyncio.TimerHandle | None = None  # at or before the earliest deadline
        self.timer_at = 0.0
        self.expiry: asyncio.TimerHandle | None = None
        # agent runs only: each call's place in the text and latest state, and the
        # ``tool`` events still in the window (few: one per move of a call)
        self.calls: dict[str, tuple[int, dict[str, Any]]] = {}
        self.tool_events: dict[int, Event] = {}  # tool events, and tool_arguments deltas

    def wake(self) -> None:
        """Every waiter: something came (or the log went).  The timer stays: the
        next waiters' timeouts are due no sooner than it."""
        if self.waiters:
            for _, waiter in self.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self.waiters.clear()

    def wait(self, timeout: float) -> asyncio.Future[None]:
        """A future woken by the next append, or when ``timeout`` s have passed."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        deadline = loop.time() + timeout
        self.waiters.append((deadline, waiter))
        if self.timer is None or deadline < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()  # a shorter timeout than the others': rare
            self.timer, self.timer_at = loop.call_at(deadline, self._expire), deadline
        return waiter

    def _expire(self) -> None:
        """The timer: wake the waiters whose time is up; again at the next deadline."""
        self.timer = None
        now = asyncio.get_running_loop().time()
        waiting = []
        for deadline, waiter in self.waiters:
            if waiter.done():
                continue
            if deadline <= now + 0.001:  # a loop may run a timer a hair early
                waiter.set_result(None)
            else:
                waiting.append((deadline, waiter))
        self.waiters = waiting
        if waiting:
            at = min(deadline for deadline, _ in waiting)
            self.timer, self.timer_at = asyncio.get_running_loop().call_at(at, self._expire), at

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def trim(self, window: int) -> None:
        """Drop offsets older than the window, in amortised O(1) steps."""
        excess = len(self.text_ends) - window
        if excess <= max(64, window // 8):
            return
        self.text_base = self.text_ends[excess - 1]
        self.reasoning_base = self.reasoning_ends[excess - 1]
        del self.text_ends[:excess]
        del self.reasoning_ends[:excess]
        self.first += excess
        for seq in [seq for seq in self.tool_events if seq < self.first]:
            del self.tool_events[seq]

    def snapshot(self) -> Event:
        content, reasoning = self.text.decode(), self.reasoning.decode()
        data = {
            "message_id": self.info.message_id,
            "content": content,
            "reasoning": reasoning,
            "status": self.final.data["message"]["status"] if self.final else "streaming",
        }
        if self.calls:
            data["parts"] = parts_of(content, reasoning, list(self.calls.values()))
        return Event(self.last_id, EventKind.SNAPSHOT, data)

    def deltas_after(self, last_id: int) -> list[Event]:
        events = []
        start = last_id - self.first + 1
        t0 = self.text_ends[start - 1] if start > 0 else self.text_base
        r0 = self.reasoning_ends[start - 1] if start > 0 else self.reasoning_base
        for i in range(start, len(self.text_ends)):
            t1, r1 = self.text_ends[i], self.reasoning_ends[i]
            sparse = self.tool_events.get(self.first + i) if self.tool_events else None
            if sparse is not None:
                events.append(sparse)
                continue
            if t1 != t0:
                data = {"text": self.text[t0:t1].decode()}
            elif r1 != r0:
                data = {"reasoning": self.reasoning[r0:r1].decode()}
            else:
                data = _TEXT
            events.append(Event(self.first + i, EventKind.DELTA, data))
            t0, r0 = t1, r1
        return events

    def read_after(self, last_id: int | None) -> list[Event]:
        exact = last_id is not None and self.first - 1 <= last_id <= self.last_id
        if exact:
            events = self.deltas_after(last_id)  # type: ignore[arg-type]
        elif self.final is not None and last_id == self.final.id:
            return []
        else:
            events = [self.snapshot()]
        if self.final is not None:
            events.append(self.final)
        return events


class MemoryStreamStore:
    """StreamStore in this process's memory; see ``StreamStore`` for guarantees."""

    backend = "memory"

    def __init__(self, replay_window: int = 10_000) -> None:
        self.replay_window = replay_window
        self._logs: dict[str, _Log] = {}
        self._active: dict[str, str] = {}  # conversation id -> stream id

    def _log(self, stream_id: str) -> _Log:
        try:
            return self._logs[stream_id]
        except KeyError:
            raise NotFound(f"stream {stream_id!r} is unknown or has expired") from None

    async def open(self, info: StreamInfo) -> None:
        current = self._active.get(info.conversation_id)
        if current is not None:
            raise GenerationActive("a generation is already active", current)
        self._logs[info.stream_id] = _Log(info)
        self._active[info.conversation_id] = info.stream_id

    async def append(self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1) -> int:
        return self.append_nowait(stream_id, text=text, reasoning=reasoning, token=token)

    def append_nowait(self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1) -> int:
        """Never waits: the log is in this process."""
        log = self._log(stream_id)
        if log.final is not None:
            raise NotFound(f"stream {stream_id!r} has finished")
        if text:
            log.text += text.encode()
        if reasoning:
            log.reasoning += reasoning.encode()
        log.text_ends.append(len(log.text))
        log.reasoning_ends.append(len(log.reasoning))
        log.last_id += 1
        log.trim(self.replay_window)
        log.wake()
        return log.last_id

    async def append_tool(self, stream_id: str, call: dict[str, Any], offset: int, *, token: int = 1) -> int:
        log = self._log(stream_id)
        if log.final is not None:
            raise NotFound(f"stream {stream_id!r} has finished")
        seq = self._sparse(log, EventKind.TOOL, {"call": call})
        log.calls[call["id"]] = (log.calls[call["id"]][0] if call["id"] in log.calls else offset, call)
        return seq

    async def append_arguments(self, stream_id: str, call_id: str, text: str, *, token: int = 1) -> int:
        log = self._log(stream_id)
        if log.final is not None:
            raise NotFound(f"stream {stream_id!r} has finished")
        return self._sparse(log, EventKind.DELTA, {"tool_arguments": {"call_id": call_id, "text": text}})

    def _sparse(self, log: _Log, kind: EventKind, data: dict[str, Any]) -> int:
        """An event that is not text: numbered like a delta, kept as an object (few per reply)."""
        log.text_ends.append(len(log.text))
        log.reasoning_ends.append(len(log.reasoning))
        log.last_id += 1
        log.tool_events[log.last_id] = Event(log.last_id, kind, data)
        log.trim(self.replay_window)
        log.wake()
        return log.last_id

    async def reclaim(self, stream_id: str) -> StreamInfo | None:
        """One process: a parked stream is still here (or gone with it)."""
        log = self._logs.get(stream_id)
        if log is None or log.final is not None:
            return None
        return await self.info(stream_id)

    async def park(self, stream_id: str, token: int) -> None:
        return None  # no lease to give up: the stream lives as long as this process

    async def finish(self, stream_id: str, message: dict[str, Any], ttl: float, *, token: int = 1) -> int:
        log = self._log(stream_id)
        if log.final is None:
            log.final = Event(log.last_id + 1, EventKind.FINAL, {"message": message})
            log.info = dataclasses.replace(log.info, finished=True)
            self._release(log.info)
            log.wake()
            loop = asyncio.get_running_loop()
            log.expiry = loop.call_later(ttl, self._forget, stream_id)
        return log.final.id

    async def read_after(self, stream_id: str, last_id: int | None, timeout: float) -> ReadResult:
        log = self._log(stream_id)
        if log.final is not None and last_id == log.final.id:
            return ReadResult([], True)  # past it: the snapshot and the final, as Redis answers
        events = log.read_after(last_id)
        if not events and log.final is None and timeout > 0:
            await log.wait(timeout)
            events = self._log(stream_id).read_after(last_id)
        done = log.final is not None and (not events or events[-1] is log.final)
        return ReadResult(events, done)

    async def info(self, stream_id: str) -> StreamInfo:
        log = self._log(stream_id)
        return dataclasses.replace(log.info, last_event_id=log.final.id if log.final else log.last_id)

    async def active(self, conversation_id: str) -> StreamInfo | None:
        stream_id = self._active.get(conversation_id)
        return None if stream_id is None else await self.info(stream_id)

    async def expire(self, stream_id: str) -> None:
        self._forget(stream_id)

    async def renew(self, tokens: dict[str, int], lease: float) -> None:
        return None  # one process: its jobs cannot outlive it

    async def claim_orphans(self) -> list[StreamInfo]:
        return []

    async def request_abort(self, stream_id: str) -> None:
        self._log(stream_id)  # only local jobs exist; NotFound if unknown

    def on_abort(self, callback: Callable[[str], None]) -> None:
        return None

    def loops(self) -> list[Loop]:
        """None: this store needs no task of its own."""
        return []

    async def ping(self) -> None:
        """Always there: it is this process."""

    async def close(self) -> None:
        for stream_id in list(self._logs):
            self._forget(stream_id)

    def _forget(self, stream_id: str) -> None:
        log = self._logs.pop(stream_id, None)
        if log is None:
            return
        if log.expiry is not None:
            log.expiry.cancel()
        self._release(log.info)
        log.wake()
        log.stop_timer()

    def _release(self, info: StreamInfo) -> None:
        if self._active.get(info.conversation_id) == info.stream_id:
            del self._active[info.conversation_id]
