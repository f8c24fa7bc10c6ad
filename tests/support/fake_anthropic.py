"""A local server speaking Anthropic's Messages API: the events as Anthropic streams them."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

from tornado import httpserver, web

__all__ = ["begin", "ending", "serve", "sse", "write_events"]


def sse(kind: str, data: dict[str, Any]) -> bytes:
    """One Messages API event as its stream writes it."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def begin(handler: web.RequestHandler, input_tokens: int) -> tuple[dict[str, Any], bytes]:
    """Take the request (kept in ``seen``), start an event stream; its ``message_start`` event."""
    request: dict[str, Any] = json.loads(handler.request.body)
    handler.application.settings["seen"].append(request)
    handler.set_header("Content-Type", "text/event-stream")
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": [],
    }
    message.update(
        stop_reason=None, stop_sequence=None, usage={"input_tokens": input_tokens, "output_tokens": 1}
    )
    return request, sse("message_start", {"message": message})


def ending(stop_reason: str, output_tokens: int) -> list[bytes]:
    """The last two events of a message: why it stopped and what it cost."""
    delta = {
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }
    return [sse("message_delta", delta), sse("message_stop", {})]


async def write_events(handler: web.RequestHandler, events: list[bytes]) -> None:
    """Send ``events`` one flush each, as a stream does, and end the response."""
    for event in events:
        handler.write(event)
        await handler.flush()
    handler.finish()


@contextlib.asynccontextmanager
async def serve(handler: type[web.RequestHandler]) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """``handler`` at ``/v1/messages`` on this test's loop: the base URL, and the requests it saw
    (the handler appends each to ``self.application.settings["seen"]``)."""
    seen: list[dict[str, Any]] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    server = httpserver.HTTPServer(web.Application([(r"/v1/messages", handler)], seen=seen))
    server.add_sockets([sock])
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    finally:
        server.stop()
        await server.close_all_connections()
