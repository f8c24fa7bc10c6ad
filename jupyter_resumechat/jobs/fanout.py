"""Fan-out: the readers of a stream on this server share its reads and its bytes.

Readers that wait at the same position (every caught-up reader of a live
reply) share one ``read_after`` of the store: one wake-up, one read and one
SSE encoding per batch, however many readers.  The batch's bytes are kept
for the readers still to come (``recent``), and the waiting readers are
woken a slice at a time, one slice per loop turn, so a thousand readers of
one reply never hold up the loop (the generation task and other users'
replies run between slices).  A crowd (``CROWD`` readers at one position)
waits ``CROWD_WINDOW`` for more pieces before it is woken, so each reader's
write carries several events: with 1,000 readers of a 100 pieces/s reply
that halves the socket writes or better, at the cost of text arriving in
50 ms steps for that crowd (B8 in the bench).  The writer never waits on any of this: it
only appends to the store.

A reader resuming from elsewhere, or asking without a last id (a snapshot),
does not wait with the others; but readers that ask for the same position at
the same time share one read, and the answer of a finished stream (which
never changes) is kept while the stream has readers here: thirty readers of
a finished 20 MB reply share one encoding of its snapshot and final, not
thirty.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any

from ..eventstream import encode_event
from ..streams import ReadResult, StreamStore

__all__ = ["Chunk", "FanOut", "Feed"]

SLICE = 64  # readers woken per loop turn
RECENT = 8  # batches kept per stream for readers still catching up
CROWD = 100  # readers waiting at one position that make a crowd
CROWD_WINDOW = 0.05  # seconds a crowd's batch waits for more pieces (one write per reader per window)


@dataclass(frozen=True)
class Chunk(ReadResult):
    """A batch of events with its SSE bytes, encoded once for every reader.

    ``body`` is every event but a trailing final, ``final`` that final (or
    empty): the final repeats the whole message, so it goes out on its own.
    """

    body: bytes = b""
    final: bytes = b""

    @classmethod
    def of(cls, batch: ReadResult) -> Chunk:
        events = batch.events
        if events and batch.done:
            head, final = events[:-1], encode_event(events[-1])
        else:
            head, final = events, b""
        return cls(events, batch.done, b"".join(map(encode_event, head)), final)


class Feed:
    """The readers of one stream on this server (see module docstring)."""

    def __init__(self, streams: StreamStore, stream_id: str, tasks: set[asyncio.Task[Any]]) -> None:
        self.streams = streams
        self.stream_id = stream_id
        self.readers = 0
        self._tasks = tasks  # owned by the FanOut: cancelled at stop
        self._waiting: dict[int, list[asyncio.Future[Chunk]]] = {}
        self._recent: collections.OrderedDict[int, Chunk] = collections.OrderedDict()
        self._finished: collections.OrderedDict[int | None, Chunk] = collections.OrderedDict()
        self._reading: dict[int | None, asyncio.Task[Chunk]] = {}

    async def read(self, last_id: int | None, timeout: float) -> Chunk:
        """The next batch after ``last_id``, as ``StreamStore.read_after`` gives it."""
        if last_id is not None:
            cached = self._recent.get(last_id)
            if cached is not None:
                return cached
        if last_id is None or timeout <= 0:
            return await self._read_now(last_id)
        if self.readers == 1 and not self._waiting:
            # the only reader here (a reply shown in one tab): nothing to share, so no task,
            # no future and no batch kept; a reader joining meanwhile reads for itself once
            return Chunk.of(await self.streams.read_after(self.stream_id, last_id, timeout))
        waiting = self._waiting.get(last_id)
        if waiting is None:
            waiting = self._waiting[last_id] = []
            task = asyncio.get_running_loop().create_task(self._fetch(last_id, timeout))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        waiter: asyncio.Future[Chunk] = asyncio.get_running_loop().create_future()
        waiting.append(waiter)
        return await waiter

    async def _read_now(self, last_id: int | None) -> Chunk:
        """A read that does not wait, shared with the readers asking for the same
        position meanwhile; a finished stream's answer is kept for later readers."""
        finished = self._finished.get(last_id)
        if finished is not None:
            return finished
        reading = self._reading.get(last_id)
        if reading is None:
            reading = asyncio.get_running_loop().create_task(self._read_once(last_id))
            self._reading[last_id] = reading
            self._tasks.add(reading)
            reading.add_done_callback(self._tasks.discard)
            reading.add_done_callback(lambda done: done.cancelled() or done.exception())
        return await asyncio.shield(reading)

    async def _read_once(self, last_id: int | None) -> Chunk:
        try:
            chunk = Chunk.of(await self.streams.read_after(self.stream_id, last_id, 0))
        finally:
            self._reading.pop(last_id, None)
        if chunk.done:
            self._finished[last_id] = chunk
            while len(self._finished) > RECENT:
                self._finished.popitem(last=False)
        return chunk

    async def _fetch(self, last_id: int, timeout: float) -> None:
        """One read for every reader at ``last_id``; they are woken a slice per loop turn."""
        try:
            batch = await self.streams.read_after(self.stream_id, last_id, timeout)
            if len(self._waiting.get(last_id, ())) >= CROWD and batch.events and not batch.done:
                # a crowd: let a few more pieces come, so each reader's write carries several
                await asyncio.sleep(CROWD_WINDOW)
                batch = await self.streams.read_after(self.stream_id, last_id, 0)
            chunk = Chunk.of(batch)
        except Exception as exc:  # NotFound, Unavailable: each reader handles it as before
            for waiter in self._waiting.pop(last_id, []):
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        self._remember(last_id, chunk)
        waiters = self._waiting.pop(last_id, [])
        for start in range(0, len(waiters), SLICE):
            if start:
                await asyncio.sleep(0)  # let the loop run others between slices
            for waiter in waiters[start : start + SLICE]:
                if not waiter.done():
                    waiter.set_result(chunk)

    def _remember(self, last_id: int, chunk: Chunk) -> None:
        """A batch for the readers still to come at ``last_id``."""
        if chunk.events:
            self._recent[last_id] = chunk
            while len(self._recent) > RECENT:
                self._recent.popitem(last=False)


class FanOut:
    """Every stream's ``Feed`` while it has readers here; owns their read tasks."""

    def __init__(self, streams: StreamStore) -> None:
        self.streams = streams
        self._feeds: dict[str, Feed] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def join(self, stream_id: str) -> Feed:
        feed = self._feeds.get(stream_id)
        if feed is None:
            feed = self._feeds[stream_id] = Feed(self.streams, stream_id, self._tasks)
        feed.readers += 1
        return feed

    def leave(self, feed: Feed) -> None:
        feed.readers -= 1
        if feed.readers <= 0 and self._feeds.get(feed.stream_id) is feed:
            del self._feeds[feed.stream_id]

    def total(self) -> int:
        """Readers of every stream, now."""
        return sum(feed.readers for feed in self._feeds.values())

    def readers(self, stream_id: str) -> int:
        feed = self._feeds.get(stream_id)
        return 0 if feed is None else feed.readers

    async def stop(self) -> None:
        """Cancel the reads still in flight (their readers are gone or going)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
