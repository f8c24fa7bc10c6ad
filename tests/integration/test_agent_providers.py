"""A whole run through the real SDKs (docs/protocol.md#agent-runs): OpenAI's streamed
``tool_calls`` (with ids, without, whole calls at one index) and Anthropic's
``tool_use`` blocks, each against a local server speaking its API, so what the
SDK sends back (the calls, their results, a denial) is checked where it lands.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado import web

from tests.integration.test_agent_runs import awaiting, calls_of, decide, final_of
from tests.support.fake_anthropic import begin, ending, serve, sse, write_events
from tests.support.fake_openai import TOOL_MODELS

SCRIPT = 'CALL file_read {"path": "a.txt"}\nTHEN\nCALL file_write {"path": "b.txt", "content": "hi"}'


@pytest.fixture
def resumechat_config(resumechat_config: dict[str, Any], fake_openai: Any) -> dict[str, Any]:
    return {
        **resumechat_config,
        "provider": "openai",
        "base_url": fake_openai.url,
        "api_key": "sk-test-secret-0123456789",
        "model": "gpt-tools",
        "models": TOOL_MODELS,
        "provider_max_retries": 0,
    }


@pytest.mark.parametrize("model", TOOL_MODELS)
async def test_an_openai_compatible_run_reads_decides_writes_and_answers(
    api, fake_openai, jp_root_dir: Path, model: str
):
    (jp_root_dir / "a.txt").write_text("alpha")
    conv = await api.conversation()
    sent = await api.send(conv["id"], SCRIPT, tools="all", model=model)
    await awaiting(api, conv["id"])  # the read ran at once; the write asks
    write = calls_of((await api.messages(conv["id"]))[-1])[1]
    assert write["name"] == "file_write" and write["arguments"] == {"path": "b.txt", "content": "hi"}
    assert (await decide(api, sent["stream_id"], write["id"], "approve")).status_code == 200
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete", final
    assert final["content"] == "Results: alpha | wrote 2 bytes to b.txt"
    assert (jp_root_dir / "b.txt").read_text() == "hi"
    # what the SDK sent the third time: each call, then its result under the call's id
    last = fake_openai.seen[-1]["messages"]
    made = [c for m in last if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    results = [m for m in last if m["role"] == "tool"]
    assert [c["function"]["name"] for c in made] == ["file_read", "file_write"]
    assert [r["tool_call_id"] for r in results] == [c["id"] for c in made]
    assert {t["function"]["name"] for t in fake_openai.seen[-1]["tools"]} >= {"file_read", "file_write"}


class AnthropicAgent(web.RequestHandler):
    """Anthropic's Messages API as an agent: a ``tool_use`` of file_write first, then an
    answer that repeats the ``tool_result`` it was sent (and whether it was an error)."""

    async def post(self) -> None:
        request, started = begin(self, 5)
        results = [
            block
            for message in request["messages"]
            if message["role"] == "user" and isinstance(message["content"], list)
            for block in message["content"]
            if block.get("type") == "tool_result"
        ]
        if not results:
            arguments = json.dumps({"path": "c.txt", "content": "no"})
            events = [
                started,
                sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
                sse(
                    "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Writing. "}}
                ),
                sse("content_block_stop", {"index": 0}),
                sse(
                    "content_block_start",
                    {
                        "index": 1,
                        "content_block": {
                            "type": "tool_use",
                            "id": "toolu_9",
                            "name": "file_write",
                            "input": {},
                        },
                    },
                ),
                *[
                    sse(
                        "content_block_delta",
                        {
                            "index": 1,
                            "delta": {"type": "input_json_delta", "partial_json": arguments[i : i + 7]},
                        },
                    )
                    for i in range(0, len(arguments), 7)
                ],
                sse("content_block_stop", {"index": 1}),
                *ending("tool_use", 9),
            ]
        else:
            said = f"{results[0]['tool_use_id']} error={results[0].get('is_error', False)}: {results[0]['content']}"
            events = [
                started,
                sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
                sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": said}}),
                sse("content_block_stop", {"index": 0}),
                *ending("end_turn", 9),
            ]
        await write_events(self, events)


@pytest.fixture
def anthropic(jp_asyncio_loop: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    running = serve(AnthropicAgent)
    found = jp_asyncio_loop.run_until_complete(running.__aenter__())
    yield found
    jp_asyncio_loop.run_until_complete(running.__aexit__(None, None, None))


class TestAnthropic:
    @pytest.fixture
    def resumechat_config(self, backend: dict[str, Any], anthropic: Any) -> dict[str, Any]:
        return {
            **backend,
            "provider": "anthropic",
            "base_url": anthropic[0],
            "api_key": "sk-ant-test-0123456789",
            "model": "claude-test",
            "provider_max_retries": 0,
            "checkpoint_interval": 0.05,
            "heartbeat_interval": 0.5,
        }

    async def test_a_denied_tool_use_goes_back_as_an_error_result_and_nothing_is_written(
        self, api, anthropic, jp_root_dir: Path
    ):
        pytest.importorskip("anthropic")
        conv = await api.conversation()
        sent = await api.send(conv["id"], "write c.txt", tools=["file_write"])
        await awaiting(api, conv["id"])
        call = calls_of((await api.messages(conv["id"]))[-1])[0]
        assert call["arguments"] == {"path": "c.txt", "content": "no"}
        assert (
            await decide(api, sent["stream_id"], call["id"], "deny", note="not that file")
        ).status_code == 200
        final = await final_of(api, conv["id"])
        assert final["status"] == "complete", final
        assert final["content"] == (
            "Writing. toolu_9 error=True: The user denied this call. Their note: not that file"
        )
        assert [p["type"] for p in final["parts"]] == ["text", "tool", "text"]
        assert not (jp_root_dir / "c.txt").exists()
        _, seen = anthropic
        assert [t["name"] for t in seen[0]["tools"]] == ["file_write"]
        assert seen[-1]["messages"][1]["content"][-1] == {
            "type": "tool_use",
            "id": "toolu_9",
            "name": "file_write",
            "input": {"path": "c.txt", "content": "no"},
        }
