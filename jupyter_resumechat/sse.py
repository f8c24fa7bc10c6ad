"""Server-sent events: the wire format (pure) and the event-stream handler.

The encoding functions are pure and byte-exact (tested with strings); the
handler only moves batches from a ``Subscription`` to the socket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from .errors import InvalidRequest, NotFound
from .handlers import ResumeChatHandler
from .jobs import Subscription
from .models import Event

__all__ = ["EventStreamHandler", "encode_comment", "encode_event", "encode_retry", "parse_last_id"]

MAX_EVENT_ID = 2**53 - 1


def encode_event(event: Event) -> bytes:
    """``id``, ``event`` and one ``data`` line (the JSON has no raw newlines)."""
    return f"id: {event.id}\nevent: {event.kind.value}\ndata: {event.data_json()}\n\n".encode()


def encode_retry(milliseconds: int) -> bytes:
    """The reconnection delay a browser's EventSource should use."""
    return f"retry: {milliseconds}\n\n".encode()


def encode_comment(text: str) -> bytes:
    """A comment line, ignored by clients; keeps proxies from closing the response."""
    return "".join(f": {line}\n" for line in text.splitlines() or [""]).encode() + b"\n"


def parse_last_id(header: str | None, query: str | None) -> int | None:
    """The last event id a client saw: the header wins over the query parameter.

    Raises ``InvalidRequest`` for anything but a non-negative integer.
    """
    raw = header if header not in (None, "") else query
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16 or int(raw) > MAX_EVENT_ID:
        raise InvalidRequest("Last-Event-ID / last_event_id must be a non-negative integer")
    return int(raw)


class EventStreamHandler(ResumeChatHandler):
    """``GET streams/{sid}/events``: replay, then live, until the final."""

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
            self._task = asyncio.current_task()
            try:
                await self._pump(subscription, last_id)
            except asyncio.CancelledError:
                if not self._gone:
                    raise
                task = asyncio.current_task()
                if task is not None and hasattr(task, "uncancel"):
                    task.uncancel()
            except (StreamClosedError, NotFound):
                pass
        if not self._finished and not self._gone:
            self.finish(set_content_type="text/event-stream; charset=utf-8")

    async def _pump(self, subscription: Subscription, last_id: int | None) -> None:
        self.set_status(200)
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.write(encode_retry(self.retry_ms))
        await self.flush()
        heartbeat = self.heartbeat_interval
        while not self._gone:
            batch = await subscription.read(last_id, heartbeat)
            if batch.events:
                events = batch.events
                if len(events) > 1 and batch.done:
                    # the final repeats the whole message: let what comes before it go out first
                    self.write(b"".join(map(encode_event, events[:-1])))
                    await self.flush()
                    events = events[-1:]
                self.write(b"".join(map(encode_event, events)))
                last_id = batch.events[-1].id
            elif not batch.done:
                self.write(b": keepalive\n\n")
            flushed = self.flush()
            if not flushed.done():  # the socket is full: a slow reader; bound how long we wait
                try:
                    await asyncio.wait_for(flushed, self.write_timeout)
                except asyncio.TimeoutError:
                    self.log.info("resumechat: dropping a reader of %s stuck for %g s",
                                  subscription.stream_id, self.write_timeout)
                    self._task, self._gone = None, True  # we close it: nothing to cancel
                    if self.request.connection is not None:
                        self.request.connection.close()  # type: ignore[attr-defined]
                    return
            if batch.done:
                return

    def on_connection_close(self) -> None:
        """The client went away: release its subscription at once."""
        self._gone = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
