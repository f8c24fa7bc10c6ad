"""One blocking ``XREAD`` per server over every stream its readers wait on.

Readers of Redis streams that have caught up wait here; a single task asks
Redis for the new entries of all watched streams at once (``XREAD`` takes
many keys) and wakes the readers of the streams that moved.  So a server
holds one connection for all its live readers, however many streams they
read (a connection per stream exhausted the pool at about 100 streams).

A stream newly watched joins the next ``XREAD``, within ``block`` seconds.
The reading task is its owner's (``loop()``, run by the JobManager); the
watcher starts none itself.  Without it readers wait out their timeout and
read Redis themselves.

Streams this server writes leave the ``XREAD``: the store hands their
events to the watcher as each batch lands (``publish``), so their readers
wake at once and take the events without reading Redis again.  Whatever a
watcher hands out is the latest contiguous run of events it saw; a reader
whose last id is not right before it reads Redis itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..background import Loop
from ..models import Event
from .redislog import entry_events

__all__ = ["StreamWatcher"]

log = logging.getLogger(__name__)


@dataclass
class _Watch:
    last_id: int
    readers: int = 0
    recent: list[Event] = field(default_factory=list)  # the latest events seen, consecutive
    waiter: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def wake(self) -> None:
        waiter, self.waiter = self.waiter, asyncio.get_running_loop().create_future()
        if not waiter.done():
            waiter.set_result(None)

    def deliver(self, events: list[Event]) -> None:
        if not events or events[-1].id <= self.last_id:
            return
        self.recent = events
        self.last_id = events[-1].id
        self.wake()

    def after(self, last_id: int) -> list[Event] | None:
        """The events after ``last_id`` if what it holds continues from there."""
        recent = self.recent
        if recent and recent[0].id <= last_id + 1 <= recent[-1].id:
            return recent[last_id + 1 - recent[0].id :]
        return None


class StreamWatcher:
    """Wakes waiting readers when their Redis streams grow (see module docstring)."""

    def __init__(
        self,
        redis: Any,
        events_key: Callable[[str], str],
        block: float = 0.1,
        local: Callable[[str], bool] = lambda sid: False,
    ) -> None:
        self.redis = redis
        self.events_key = events_key
        self.local = local  # streams this server writes: their events come through publish
        self.block_ms = max(1, int(block * 1000))
        self._watched: dict[str, _Watch] = {}
        self._more = asyncio.Event()
        self._closing = False

    async def wait(
        self, stream_id: str, last_id: int, timeout: float, latest: int | None = None
    ) -> list[Event] | None:
        """Until ``stream_id`` has an event after ``last_id``, or ``timeout`` s.

        Returns the events after ``last_id`` when it holds them, else ``None``
        (read Redis).  ``latest``: the stream's last id as this server knows it.
        """
        watch = self._watched.get(stream_id)
        if watch is None:
            watch = self._watched[stream_id] = _Watch(last_id)
            self._more.set()
        elif watch.last_id > last_id:
            return watch.after(last_id)  # it moved on between the caller's read and this wait
        if latest is not None and latest > last_id:
            return None
        watch.last_id = max(watch.last_id, last_id)
        watch.readers += 1
        try:
            await asyncio.wait((watch.waiter,), timeout=timeout)
        finally:
            watch.readers -= 1
        return watch.after(last_id)

    def publish(self, stream_id: str, events: list[Event]) -> None:
        """This server wrote ``events`` to ``stream_id``: hand them to its readers."""
        watch = self._watched.get(stream_id)
        if watch is not None:
            watch.deliver(events)

    def forget(self, stream_id: str) -> None:
        """The stream is gone: wake its readers (they find it expired)."""
        watch = self._watched.pop(stream_id, None)
        if watch is not None:
            watch.wake()

    def loop(self) -> Loop:
        """The one reading task, for the owner to run."""
        return Loop("resumechat-xread", self._run, self.stop)

    def stop(self) -> None:
        """End the reading loop and wake every reader (they read Redis themselves)."""
        self._closing = True
        self._more.set()
        for watch in self._watched.values():
            watch.wake()

    async def _run(self) -> None:
        """Polls with a bounded block instead of being cancelled: a cancel landing
        inside a redis-py call can be swallowed."""
        while not self._closing:
            self._drop_unread()
            if not any(not self.local(sid) for sid in self._watched):
                self._more.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._more.wait(), 1.0)
                continue
            try:
                await self._read_once()
            except Exception as exc:
                log.warning("resumechat: watching %d Redis stream(s) failed: %s", len(self._watched), exc)
                for watch in self._watched.values():
                    watch.wake()  # readers read again and see the error themselves
                await asyncio.sleep(0.5)

    async def _read_once(self) -> None:
        keys = {self.events_key(sid): sid for sid in self._watched if not self.local(sid)}
        streams = {key: f"{self._watched[sid].last_id}-0" for key, sid in keys.items()}
        found = await self.redis.xread(streams, block=self.block_ms, count=1000)
        for key, entries in found or []:
            sid = keys.get(key.decode() if isinstance(key, bytes) else key)
            watch = None if sid is None else self._watched.get(sid)
            if sid is None or watch is None or not entries:
                continue
            events = [event for entry in entries for event in entry_events(entry)]
            watch.deliver([event for event in events if event.id > watch.last_id])
            if any(b"f" in fields for _, fields in entries):
                self._watched.pop(sid, None)  # the final: nothing more to watch

    def _drop_unread(self) -> None:
        """Streams nobody waits on any more leave the next XREAD."""
        for sid in [sid for sid, watch in self._watched.items() if watch.readers == 0]:
            del self._watched[sid]
