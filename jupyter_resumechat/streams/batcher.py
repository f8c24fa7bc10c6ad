"""Coalesced appends: the pieces of every stream go to Redis in batches.

A writer's ``add`` numbers its piece at once (the next id of its stream) and
returns without waiting for Redis: the piece joins its stream's open batch.
One flusher loop per store (``loop()``, run by the store's owner, the
JobManager) sends every stream's batches in one pipeline,
one script call per batch, and while that round trip is in flight new
pieces gather in the next batch.  ``window`` bounds how often it sends:
the first piece after a quiet spell goes at once, later ones wait until
``window`` seconds after the previous send (so a model's 20–50 pieces a
second go one by one, with no wait, and a fast stream sends about one
batch per ``window``).

Exactly once: a batch keeps the ids it was given and is applied all or
nothing by the script, which skips a batch already applied (a retry after a
lost answer) and refuses one that would leave a gap.  A batch that failed
stays queued, in order, and is sent again; the failure is reported to the
writer's next ``add`` (so the job ends as a failed single append would),
and ``drain`` (before the final) waits until the stream's batches are in.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ..background import Loop
from ..errors import LeaseLost, NotFound, ResumeChatError, Unavailable

__all__ = ["AppendBatcher", "Batch", "Outcome"]

log = logging.getLogger(__name__)

MAX_BACKOFF = 1.0


@dataclass
class Batch:
    """Consecutive pieces of one stream, ids ``first`` … ``last``."""

    token: int
    first: int
    texts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def last(self) -> int:
        return self.first + len(self.texts) - 1


# What sending a batch gave: its last id, or the error that ends its stream's writes.
Outcome = int | ResumeChatError
Sender = Callable[[list[tuple[str, Batch]]], Awaitable[list[Outcome]]]


class _Outbox:
    """One stream's pieces not yet in Redis, oldest batch first."""

    __slots__ = ("batches", "error", "landed", "next_id", "open", "queued", "settled")

    def __init__(self, next_id: int) -> None:
        self.next_id = next_id
        self.landed = next_id - 1  # the last id known to be in Redis
        self.batches: collections.deque[Batch] = collections.deque()
        self.open: Batch | None = None  # still taking pieces; sealed when the flusher takes it
        self.error: ResumeChatError | None = None
        self.settled: asyncio.Future[None] | None = None
        self.queued = 0  # pieces not yet in Redis

    def settle(self) -> None:
        if self.settled is not None and not self.settled.done():
            self.settled.set_result(None)
        self.settled = None


class AppendBatcher:
    """Numbers pieces at once and sends them in batches (see module docstring)."""

    def __init__(self, send: Sender, window: float, max_batch: int, max_pending: int = 10_000) -> None:
        self.send = send
        self.window = window  # seconds between sends at most once per window
        self.max_batch = max(1, max_batch)  # pieces per batch: a log entry never outgrows the window
        self.max_pending = max_pending  # pieces a stream may have queued before add waits
        self._boxes: dict[str, _Outbox] = {}
        self._ready = asyncio.Event()
        self._last_send = -1e9
        self._closing = False

    def knows(self, stream_id: str) -> bool:
        return stream_id in self._boxes

    def start(self, stream_id: str, next_id: int) -> None:
        """This server writes ``stream_id``; its next piece gets ``next_id``."""
        self._boxes.setdefault(stream_id, _Outbox(next_id))

    def add_nowait(self, stream_id: str, token: int, text: str, reasoning: str) -> int | None:
        """``add`` unless the stream's queue is full (then ``None``: call ``add``, which waits)."""
        box = self._boxes[stream_id]
        if box.error is not None:
            raise box.error
        if box.queued + 1 >= self.max_pending:
            return None
        return self._queue(box, token, text, reasoning)

    async def add(self, stream_id: str, token: int, text: str, reasoning: str) -> int:
        """Queue one piece and return its id; raises the error a failed send left."""
        box = self._boxes[stream_id]
        if box.error is not None:
            raise box.error
        seq = self._queue(box, token, text, reasoning)
        if box.queued >= self.max_pending:  # Redis is slower than the model: wait for it
            await self.drain(stream_id)
        return seq

    def _queue(self, box: _Outbox, token: int, text: str, reasoning: str) -> int:
        if box.open is None or box.open.token != token or len(box.open.texts) >= self.max_batch:
            if box.open is not None:
                box.batches.append(box.open)
            box.open = Batch(token, box.next_id)
        box.open.texts.append(text)
        box.open.reasons.append(reasoning)
        box.next_id += 1
        box.queued += 1
        self._ready.set()
        return box.next_id - 1

    def pending(self, stream_id: str) -> bool:
        box = self._boxes.get(stream_id)
        return box is not None and (box.open is not None or bool(box.batches))

    async def drain(self, stream_id: str) -> None:
        """Until every piece queued for ``stream_id`` so far is in Redis; raises what failed."""
        box = self._boxes.get(stream_id)
        target = box.next_id - 1 if box is not None else 0
        while box is not None and box.landed < target:
            if box.error is not None and not isinstance(box.error, Unavailable):
                raise box.error
            if box.settled is None:
                box.settled = asyncio.get_running_loop().create_future()
            self._ready.set()
            await asyncio.shield(box.settled)
            if self._boxes.get(stream_id) is not box:
                return  # forgotten meanwhile: the stream ended or expired
            if box.error is not None and box.landed < target:
                raise box.error
        if box is not None and box.error is not None and not isinstance(box.error, Unavailable):
            raise box.error

    def forget(self, stream_id: str) -> None:
        """The stream ended or expired: drop what it still had queued."""
        box = self._boxes.pop(stream_id, None)
        if box is not None:
            box.settle()

    def loop(self) -> Loop:
        """The flusher, for the owner to run: it sends what is queued until ``stop``."""
        return Loop("resumechat-append-batches", self._run, self.stop)

    def stop(self) -> None:
        """The flusher sends what is queued (a failed send is not retried), then ends."""
        self._closing = True
        self._ready.set()

    def close(self) -> None:
        """Stop, and release every ``drain`` still waiting (the flusher is gone)."""
        self.stop()
        for box in self._boxes.values():
            box.settle()

    async def _run(self) -> None:
        try:
            await self._flush_until_stopped()
        finally:
            for box in self._boxes.values():
                box.settle()

    async def _flush_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.0
        while True:
            await self._ready.wait()
            self._ready.clear()
            wait = max(backoff, self._last_send + self.window - loop.time())
            if wait > 0 and not self._closing:
                await asyncio.sleep(wait)
            work = self._take()
            if not work:
                if self._closing:
                    return
                continue
            self._last_send = loop.time()
            failed = await self._send(work)
            backoff = min(MAX_BACKOFF, max(0.05, backoff * 2)) if failed else 0.0
            if failed:
                if self._closing:
                    return
                self._ready.set()  # try again after the backoff

    def _take(self) -> list[tuple[str, Batch]]:
        work: list[tuple[str, Batch]] = []
        for sid, box in self._boxes.items():
            if box.open is not None:
                box.batches.append(box.open)
                box.open = None
            work.extend((sid, batch) for batch in box.batches)
        return work

    async def _send(self, work: list[tuple[str, Batch]]) -> bool:
        """One round trip; True if some batch must be sent again."""
        try:
            outcomes: list[Outcome] = await self.send(work)
        except Unavailable as exc:
            outcomes = [exc] * len(work)
        failed = False
        for (sid, batch), outcome in zip(work, outcomes, strict=True):
            box = self._boxes.get(sid)
            if box is None:
                continue
            if isinstance(outcome, Unavailable):
                box.error, failed = outcome, True
            elif isinstance(outcome, (LeaseLost, NotFound, ResumeChatError)):
                log.warning(
                    "resumechat: stream %s: %d queued piece(s) refused: %s", sid, len(batch.texts), outcome
                )
                box.error = outcome
                box.batches.clear()
                box.open, box.queued = None, 0
            elif box.batches and box.batches[0] is batch:
                box.batches.popleft()
                box.queued -= len(batch.texts)
                box.landed = batch.last
                if box.error is not None and isinstance(box.error, Unavailable):
                    box.error = None
        for box in self._boxes.values():
            box.settle()  # every drain looks again: done, failed, or waits for the next send
        return failed
