"""A model endpoint that echoes the request's credentials in its errors, as some
proxies and gateways do: the edge where a server's key leaks to clients.

It speaks both APIs the providers use, through their real SDKs:

* ``POST /v1/chat/completions`` (OpenAI-compatible): the model name picks the
  failure: ``echo-401`` and ``echo-500`` answer that status with every request
  header in the message; ``echo-stream`` starts a stream, then sends an error
  event quoting the ``Authorization`` header (the SDK's "unexpected" branch).
* ``POST /v1/messages`` (Anthropic): ``echo-401`` / ``echo-500`` the same, quoting
  ``x-api-key``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tornado import httpserver, testing, web

__all__ = ["ECHO_MODELS", "EchoEndpoint", "echo_in_a_thread"]

ECHO_MODELS = {"openai": ["echo-401", "echo-500", "echo-stream"], "anthropic": ["echo-401", "echo-500"]}


def _headers(handler: web.RequestHandler) -> str:
    return "; ".join(f"{name}: {value}" for name, value in handler.request.headers.get_all())


class Completions(web.RequestHandler):
    async def post(self) -> None:
        model = json.loads(self.request.body)["model"]
        if model == "echo-stream":
            self.set_header("Content-Type", "text/event-stream")
            auth = self.request.headers.get("Authorization", "")
            error = {"error": {"message": f"gateway dropped the stream for {auth}", "type": "server_error"}}
            self.write(f"data: {json.dumps(error)}\n\n")
            self.finish()
            return
        status = 401 if model == "echo-401" else 500
        self.set_status(status)
        message = (
            f"proxy refused credentials {self.request.headers.get('Authorization', '')} ({_headers(self)})"
        )
        self.finish({"error": {"message": message, "type": "invalid_request_error", "code": status}})


class Messages(web.RequestHandler):
    async def post(self) -> None:
        model = json.loads(self.request.body)["model"]
        status = 401 if model == "echo-401" else 500
        self.set_status(status)
        key = self.request.headers.get("x-api-key", "")
        kind = "authentication_error" if status == 401 else "api_error"
        message = f"invalid x-api-key: {key} (headers: {_headers(self)})"
        self.finish({"type": "error", "error": {"type": kind, "message": message}})


class EchoEndpoint:
    """Runs on the current event loop; ``url(api)`` is the base URL its SDK takes."""

    def __init__(self) -> None:
        app = web.Application([(r"/v1/chat/completions", Completions), (r"/v1/messages", Messages)])
        sock, self.port = testing.bind_unused_port()
        self.server = httpserver.HTTPServer(app)
        self.server.add_sockets([sock])

    def url(self, api: str) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/v1" if api == "openai" else "")

    def stop(self, *_: Any) -> None:
        self.server.stop()


@contextmanager
def echo_in_a_thread() -> Iterator[EchoEndpoint]:
    """An EchoEndpoint on a loop of its own, for a client in another process."""
    loop = asyncio.new_event_loop()
    made: list[EchoEndpoint] = []
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(lambda: (made.append(EchoEndpoint()), ready.set()))
        loop.run_forever()

    thread = threading.Thread(target=main, name="echo-endpoint", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the echoing endpoint did not start")
    try:
        yield made[0]
    finally:
        loop.call_soon_threadsafe(made[0].stop)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
