"""The Anthropic provider's real SDK path against a local server speaking the Messages API."""

from __future__ import annotations

from typing import Any

import pytest
from tornado import web

from jupyter_resumechat.models import Usage
from jupyter_resumechat.providers import ChatTurn
from tests.support.fake_anthropic import begin, ending, serve, sse, write_events

anthropic = pytest.importorskip("anthropic")  # the [anthropic] extra; the test extras include it

from jupyter_resumechat.providers.anthropic import AnthropicProvider  # noqa: E402


class Messages(web.RequestHandler):
    """POST /v1/messages with stream=true: thinking, text, then the usage, as Anthropic sends them."""

    async def post(self) -> None:
        _, started = begin(self, 11)
        events = [
            started,
            sse("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
            sse("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
            sse("content_block_stop", {"index": 0}),
            sse("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hello"}}),
            sse("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": " there"}}),
            sse("content_block_stop", {"index": 1}),
            *ending("end_turn", 7),
        ]
        await write_events(self, events)


def fake_anthropic() -> Any:
    return serve(Messages)


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
