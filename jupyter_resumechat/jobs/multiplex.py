"""Several streams read over one connection: each stream's batches, merged.

A browser page holds one event-stream connection for all its chat views
(HTTP/1.1 allows six per origin, across tabs, and JupyterLab needs them
too).  ``Multiplex`` reads every stream the page follows exactly as the
single-stream endpoint does (one ``Subscription`` each, through the
stream's ``Feed``, so the shared reads and bytes of ``fanout.py`` still
hold) and hands the batches to one writer in order per stream, the streams
interleaved.  A stream that cannot be read (unknown, expired, not yours) or
that has nothing more (resumed at its final) ends as a ``Gone`` for that
stream alone; the others go on.

The queue holds about one batch per stream: a reader that does not read
makes each stream's task wait, not buffer (it reads a bigger batch, or a
snapshot, later).  The tasks belong to the ``Multiplex`` and are cancelled
and awaited when its ``JobManager.subscribe_many`` block ends.  A cancel
that lands inside a redis-py call can be swallowed (the read then returns
and the task would follow its stream on, holding it, its reader long gone):
so a task also stops at its next batch once closed, and is cancelled again
until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from ..errors import NotFound
from .fanout import Chunk
from .job import Subscription

__all__ = ["Batch", "Gone", "Multiplex"]


@dataclass(frozen=True)
class Batch:
    """The next events of one stream; ``chunk.done`` when they end with its final."""

    stream_id: str
    chunk: Chunk


@dataclass(frozen=True)
class Gone:
    """A stream this reader gets nothing (more) from: ``unknown`` (the 404 of the
    single-stream endpoint: unknown, expired, not yours) or ``ended`` (its 204:
    resumed at the final)."""

    stream_id: str
    reason: str


RECANCEL = 0.1  # seconds between cancels of a task that goes on after one

Item = Batch | Gone
Subscribe = Callable[[str], contextlib.AbstractAsyncContextManager[Subscription]]


class Multiplex:
    """The merged batches of ``positions`` (stream id → last id seen, or None)."""

    def __init__(self, subscribe: Subscribe, positions: Mapping[str, int | None], timeout: float) -> None:
        self._subscribe = subscribe
        self._timeout = timeout
        self._queue: asyncio.Queue[Item | Exception] = asyncio.Queue(maxsize=len(positions))
        self._tasks = [
            asyncio.get_running_loop().create_task(self._follow(s, last)) for s, last in positions.items()
        ]
        self.open = len(positions)
        """Streams that have not ended yet (neither their final nor a ``Gone`` taken)."""
        self._closed = False

    async def next(self, timeout: float) -> list[Item]:
        """Every batch and ``Gone`` queued now, waiting up to ``timeout`` seconds for
        the first; empty when nothing came.  All of them, so the writer sends the
        streams' news in one write, not one flush per stream.

        Raises what a read raised other than ``NotFound`` (``Unavailable``: the
        store is down; the reader reconnects with its last ids).
        """
        if self._queue.empty():
            try:
                first = await asyncio.wait_for(self._queue.get(), timeout)
            except asyncio.TimeoutError:
                return []
            found = [first]
        else:
            found = []
        while not self._queue.empty():
            found.append(self._queue.get_nowait())
        items = []
        for item in found:
            if isinstance(item, Exception):
                raise item
            if isinstance(item, Gone) or item.chunk.done:
                self.open -= 1
            items.append(item)
        return items

    async def close(self) -> None:
        """End every stream's task: cancelled, and cancelled again each ``RECANCEL``
        seconds while one goes on (see module docstring)."""
        self._closed = True
        pending = {task for task in self._tasks if not task.done()}
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=RECANCEL)
        for task in self._tasks:
            if not task.cancelled():
                task.exception()  # retrieved: handed to nobody now

    async def _follow(self, stream_id: str, last_id: int | None) -> None:
        """One stream, as ``GET streams/{sid}/events`` reads it."""
        try:
            async with (
                self._subscribe(stream_id) as subscription,
                contextlib.aclosing(subscription.follow(last_id, self._timeout)) as batches,
            ):
                first = True
                async for batch in batches:
                    if self._closed:
                        return
                    if first and batch.done and not batch.events:
                        await self._queue.put(Gone(stream_id, "ended"))
                    elif batch.events:
                        await self._queue.put(Batch(stream_id, batch))
                    first = False
        except NotFound:
            await self._queue.put(Gone(stream_id, "unknown"))
        except Exception as exc:  # handed to the reader, who raises it
            await self._queue.put(exc)


@contextlib.asynccontextmanager
async def multiplex(
    subscribe: Subscribe, positions: Mapping[str, int | None], timeout: float
) -> AsyncIterator[Multiplex]:
    """A ``Multiplex`` whose tasks end with the block."""
    merged = Multiplex(subscribe, positions, timeout)
    try:
        yield merged
    finally:
        await merged.close()
