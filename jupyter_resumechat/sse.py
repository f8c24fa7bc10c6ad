"""The event-stream handler: moves batches from a ``Subscription`` to the socket.

The wire format itself is ``eventstream.py`` (pure, no tornado).
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .errors import NotFound, Unavailable
from .eventstream import HEARTBEAT_HEADER, encode_retry, parse_last_id
from .handlers import ResumeChatHandler
from .jobs import Chunk, Subscription

__all__ = ["EventStreamHandler"]


class EventStreamHandler(ResumeChatHandler):
    """``GET streams/{sid}/events``: replay, then live, until the final.

    Every write waits at most ``write_timeout`` for the socket to drain: a
    reader that does not read is dropped (it can resume with its last id),
    so no reader pins a reply's bytes in the server (issue: readers that never
    read a finished 20 MB reply held 1.2 GB).
    """

    retry_ms = 2000
    _task: asyncio.Task[Any] | None = None
    _gone = False

    @web.authenticated
    @authorized
    async def get(self, stream_id: str) -> None:
        last_id = parse_last_id(
            self.request.headers.get("Last-Event-ID"), self.get_query_argument("last_event_id", None)
        )
        async with self.manager.subscribe(self.user, self.valid_id(stream_id)) as subscription:
            first = await subscription.read(last_id, 0)
            if first.done and not first.events:  # resumed at the final: nothing more, ever
                self.set_status(204)
                self.finish()
                return
            self._task = asyncio.current_task()
            try:
                await self._pump(subscription, first, last_id)
            except asyncio.CancelledError:
                if not self._gone:
                    raise
                task = asyncio.current_task()
                if task is not None and hasattr(task, "uncancel"):
                    task.uncancel()
            except (StreamClosedError, NotFound, Unavailable):
                pass  # the client resumes with its last id (or reloads on 404)
        if not self._finished and not self._gone:
            self.finish(set_content_type="text/event-stream; charset=utf-8")

    async def _pump(self, subscription: Subscription, batch: Chunk, last_id: int | None) -> None:
        self.set_status(200)
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        # clients take 2.5 times this much silence for a dead connection (DESIGN §4.10)
        self.set_header(HEARTBEAT_HEADER, f"{self.heartbeat_interval:g}")
        self.write(encode_retry(self.retry_ms))
        while not self._gone:
            # bytes encoded once per batch and shared by every reader of the stream
            if batch.body and batch.final:
                # the final repeats the whole message: let what comes before it go out first
                self.write(batch.body)
                if not await self._drained(subscription.stream_id):
                    return
            if batch.events:
                self.write(batch.final or batch.body)
                last_id = batch.events[-1].id
            elif not batch.done:
                self.write(b": keepalive\n\n")
            if not await self._drained(subscription.stream_id) or batch.done:
                return
            batch = await subscription.read(last_id, self.heartbeat_interval)

    async def _drained(self, stream_id: str) -> bool:
        """Flush, waiting at most ``write_timeout``; False when the reader was dropped."""
        flushed = self.flush()
        if flushed.done():
            await flushed
            return True
        try:
            await asyncio.wait_for(flushed, self.write_timeout)
            return True
        except asyncio.TimeoutError:
            self.log.info("resumechat: dropping a reader of %s stuck for %g s", stream_id, self.write_timeout)
            self._task, self._gone = None, True  # we close it: nothing to cancel
            if self.request.connection is not None:
                self.request.connection.close()  # type: ignore[attr-defined]
            return False

    def on_connection_close(self) -> None:
        """The client went away: release its subscription at once."""
        self._gone = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
