"""A local HTTP server that speaks the OpenAI Chat Completions streaming API.

The model name picks the behaviour, so one server covers every path of the
real ``openai`` SDK: a normal stream, reasoning, a 500 before the first
chunk, a connection cut mid-stream, a stall, a stream without a finish.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tornado import httpserver, testing, web

BEHAVIOURS = ["gpt-ok", "gpt-reasoning", "gpt-500", "gpt-cut", "gpt-stall", "gpt-unfinished",
              "gpt-garbage", "gpt-slow-first"]


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    delta.update(extra)
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Completions(web.RequestHandler):
    def initialize(self, seen: list[dict[str, Any]]) -> None:
        self.seen = seen

    async def post(self) -> None:
        request = json.loads(self.request.body)
        self.seen.append(request)
        model = request["model"]
        if model == "gpt-500":
            self.set_status(500)
            self.finish({"error": {"message": "upstream exploded", "type": "server_error"}})
            return
        self.set_header("Content-Type", "text/event-stream")
        if model == "gpt-slow-first":
            await asyncio.sleep(0.5)  # well within provider_timeout
        if model == "gpt-reasoning":
            for piece in ["let ", "me ", "think"]:
                await self.send(chunk(reasoning_content=piece))
        words = ["Echo", ": ", *request["messages"][-1]["content"].split(" ")]
        for index, word in enumerate(words):
            await self.send(chunk(word if index < 2 else word + " "))
            if index == 2 and model == "gpt-cut":
                self.request.connection.stream.close()
                return
            if index == 2 and model == "gpt-stall":
                await asyncio.sleep(30)
            if index == 2 and model == "gpt-garbage":
                await self.send(b"data: {not json\n\n")
        if model != "gpt-unfinished":
            await self.send(chunk(finish="stop"))
        await self.send(b"data: [DONE]\n\n")
        self.finish()

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.flush()


class FakeOpenAI:
    """Runs on the test's event loop; ``url`` is the base URL for the SDK."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        app = web.Application([(r"/v1/chat/completions", Completions, {"seen": self.seen})])
        sock, self.port = testing.bind_unused_port()
        self.server = httpserver.HTTPServer(app)
        self.server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.stop()
