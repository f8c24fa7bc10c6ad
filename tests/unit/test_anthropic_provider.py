"""The Anthropic provider's real SDK path against a local server speaking the Messages API."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterator

import pytest
from tornado import httpserver, web

from jupyter_resumechat.models import Usage
from jupyter_resumechat.providers import ChatTurn

anthropic = pytest.importorskip("anthropic")  # the [anthropic] extra; the test extras include it

from jupyter_resumechat.providers.anthropic import AnthropicProvider  # noqa: E402


def sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


class Messages(web.RequestHandler):
    """POST /v1/messages with stream=true: thinking, text, then the usage, as Anthropic sends them."""

    async def post(self) -> None:
        request = json.loads(self.request.body)
        self.application.settings["seen"].append(request)
        self.set_header("Content-Type", "text/event-stream")
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 1},
        }
        events = [
            sse("message_start", {"message": message}),
            sse("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
            sse("content_block_stop", {"index": 0}),
            sse("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hello"}}),
            sse("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": " there"}}),
            sse("content_block_stop", {"index": 1}),
            sse(
                "message_delta",
                {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}},
            ),
            sse("message_stop", {}),
        ]
        for event in events:
            self.write(event)
            await self.flush()
        self.finish()


@contextlib.asynccontextmanager
async def fake_anthropic() -> AsyncIterator[tuple[str, list[dict]]]:
    """A local server on this test's loop."""
    seen: list[dict] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    server = httpserver.HTTPServer(web.Application([(r"/v1/messages", Messages)], seen=seen))
    server.add_sockets([sock])
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", seen
    server.stop()
    await server.close_all_connections()


async def test_text_thinking_and_usage_through_the_sdk():
    async with fake_anthropic() as (url, seen):
        provider = AnthropicProvider(
            model="claude-test", base_url=url, api_key="sk-ant-test", timeout=10, max_retries=0
        )
        try:
            deltas = [d async for d in provider.stream("claude-test", [ChatTurn("user", "hi")])]
        finally:
            await provider.close()
    assert "".join(d.text for d in deltas) == "Hello there"
    assert "".join(d.reasoning for d in deltas) == "hmm"
    assert [d.usage for d in deltas if d.usage] == [Usage(11, 7)]
    assert seen[0]["messages"] == [{"role": "user", "content": "hi"}] and seen[0]["stream"] is True
