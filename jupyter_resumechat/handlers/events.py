"""The event-stream handlers: move batches from a ``Subscription`` (or, for a
page's one connection, a ``Multiplex`` of several) to the socket.

The wire format itself is ``eventstream.py`` (pure, no tornado).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..errors import NotFound, Unavailable
from ..eventstream import (
    HEARTBEAT_HEADER,
    encode_gone,
    encode_retry,
    parse_last_id,
    parse_positions,
    pieces,
    tagged_pieces,
)
from ..jobs import Batch, Chunk, Multiplex
from .base import ResumeChatHandler

__all__ = ["EventStreamHandler", "MultiplexHandler"]

WRITE_PIECE = 256 * 1024
"""Bytes written before the writer waits for the socket: what a reader that does
not read can pin beyond the bytes all readers share (about twice this: the
piece, and tornado's chunk-framed copy of it)."""


class _EventStream(ResumeChatHandler):
    """What both event streams share: the response's headers, a bounded wait
    for the socket, and letting go at once when the client leaves.

    Every write waits at most ``write_timeout`` for the socket to drain: a
    reader that does not read is dropped (it can resume with its last id).
    Large batches go out ``WRITE_PIECE`` bytes at a time, each drained before
    the next, and the batch's bytes are shared by the stream's readers
    (``Feed``): until it is dropped, such a reader pins a piece or two of its
    own, not a copy of the reply (30 sockets that never read a finished 20 MB
    reply: 2.4 GB before, see ``bench/stuck_readers.py``).
    """

    retry_ms = 2000
    _task: asyncio.Task[Any] | None = None
    _gone = False

    def _open(self) -> None:
        """Status, headers and the ``retry`` line of an event stream."""
        self.set_status(200)
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        # clients take 2.5 times this much silence for a dead connection (docs/protocol.md#silence)
        self.set_header(HEARTBEAT_HEADER, f"{self.heartbeat_interval:g}")
        self.write(encode_retry(self.retry_ms))
        self._task = asyncio.current_task()
        # small writes go at once: Nagle would hold each behind the previous one's
        # (delayed) ACK, up to 40 ms, and a multiplexed response writes often
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.set_nodelay(True)

    def _uncancel(self) -> None:
        """``on_connection_close`` cancelled the pump: not an error, the handler ends normally."""
        task = asyncio.current_task()
        if task is not None and hasattr(task, "uncancel"):
            task.uncancel()

    def _end(self) -> None:
        if not self._finished and not self._gone:
            self.finish(set_content_type="text/event-stream; charset=utf-8")

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

    async def _send(self, data: bytes, stream_id: str, tagged: bool = False) -> bool:
        """Write ``data`` (re-tagged with ``stream_id`` when ``tagged``), a piece at a
        time; every piece but a lone one is drained.  False when the reader was dropped."""
        cut = tagged_pieces(data, stream_id, WRITE_PIECE) if tagged else pieces(data, WRITE_PIECE)
        if len(data) <= WRITE_PIECE:
            for piece in cut:
                self.write(piece)
            return True  # the caller drains, with whatever else it writes
        for piece in cut:
            self.write(piece)
            if not await self._drained(stream_id):
                return False
        return True

    def on_connection_close(self) -> None:
        """The client went away: release its subscriptions at once."""
        self._gone = True
        if self._task is not None and not self._task.done():
            self._task.cancel()


class EventStreamHandler(_EventStream):
    """``GET streams/{sid}/events``: replay, then live, until the final."""

    @web.authenticated
    @authorized
    async def get(self, stream_id: str) -> None:
        last_id = parse_last_id(
            self.request.headers.get("Last-Event-ID"), self.get_query_argument("last_event_id", None)
        )
        async with (
            self.manager.subscribe(self.user, self.valid_id(stream_id)) as subscription,
            contextlib.aclosing(subscription.follow(last_id, self.heartbeat_interval)) as batches,
        ):
            first = await anext(batches)
            if first.done and not first.events:  # resumed at the final: nothing more, ever
                self.set_status(204)
                self.finish()
                return
            try:
                await self._pump(subscription.stream_id, first, batches)
            except asyncio.CancelledError:
                if not self._gone:
                    raise
                self._uncancel()
            except (StreamClosedError, NotFound, Unavailable):
                pass  # the client resumes with its last id (or reloads on 404)
        self._end()

    async def _pump(self, stream_id: str, batch: Chunk, batches: AsyncIterator[Chunk]) -> None:
        self._open()
        while not self._gone:
            # bytes encoded once per batch and shared by every reader of the stream
            if batch.body and batch.final:
                # the final repeats the whole message: let what comes before it go out first
                if not await self._send(batch.body, stream_id):
                    return
                if not await self._drained(stream_id):
                    return
            if batch.events:
                if not await self._send(batch.final or batch.body, stream_id):
                    return
            elif not batch.done:
                self.write(b": keepalive\n\n")
            if not await self._drained(stream_id) or batch.done:
                return
            batch = await anext(batches)


class MultiplexHandler(_EventStream):
    """``GET streams/events?streams=<sid>:<last_id>,…``: several streams on one
    response, each as ``GET streams/{sid}/events`` would send it, its events'
    ids tagged ``<sid>:<seq>``; a stream gone for this reader is a ``gone``
    event for it alone.  Ends when every stream has ended."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        positions = parse_positions(self.get_query_arguments("streams"))
        async with self.manager.subscribe_many(self.user, positions, self.heartbeat_interval) as merged:
            self._open()
            try:
                await self._pump(merged)
            except asyncio.CancelledError:
                if not self._gone:
                    raise
                self._uncancel()
            except (StreamClosedError, Unavailable):
                pass  # the client resumes with its last ids
        self._end()

    async def _pump(self, merged: Multiplex) -> None:
        while not self._gone and merged.open:
            if not await self._drained("a multiplexed connection"):
                return
            items = await merged.next(self.heartbeat_interval)
            if not items:
                self.write(b": keepalive\n\n")
            for item in items:
                if isinstance(item, Batch):
                    for data in (item.chunk.body, item.chunk.final):
                        if not await self._send(data, item.stream_id, tagged=True):
                            return
                else:
                    self.write(encode_gone(item.stream_id, item.reason))
        if not self._gone:
            await self._drained("a multiplexed connection")
