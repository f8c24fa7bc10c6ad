"""Tool calls through each provider's real path: the SDKs against local servers that stream
tool calls as OpenAI-compatible servers and Anthropic do, and the demo's offline agent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado import web

from jupyter_resumechat.providers import ChatTurn, Delta
from jupyter_resumechat.providers.base import MadeCall, ToolOffer
from jupyter_resumechat.providers.demo import DemoProvider
from jupyter_resumechat.providers.openai import OpenAIProvider
from tests.support.fake_anthropic import begin, ending, serve, sse, write_events
from tests.support.fake_openai import FakeOpenAI

OFFER = [
    ToolOffer("file_read", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolOffer("file_list", "List a folder.", {"type": "object", "properties": {"path": {"type": "string"}}}),
]
SCRIPT = 'CALL file_read {"path": "data/sales.csv"}\nCALL file_list {"path": "data"}\nTHEN\nCALL file_read {"path": "b"}'


def calls_of(deltas: list[Delta]) -> list[tuple[str, str, str]]:
    """(id, name, whole arguments) of each call, in the order the calls started."""
    made: dict[str, list[str]] = {}
    for delta in deltas:
        if delta.call is not None:
            if delta.call.started:
                assert delta.call.provider_id not in made, "a call started twice"
                made[delta.call.provider_id] = [delta.call.name, ""]
            made[delta.call.provider_id][1] += delta.call.arguments
    return [(key, name, arguments) for key, (name, arguments) in made.items()]


async def run(
    provider: Any, model: str, turns: list[ChatTurn], tools: list[ToolOffer] = OFFER
) -> list[Delta]:
    try:
        return [d async for d in provider.stream(model, turns, tools)]
    finally:
        await provider.close()


def openai(fake: FakeOpenAI) -> OpenAIProvider:
    return OpenAIProvider(model="gpt-tools", base_url=fake.url, api_key="k", timeout=10, max_retries=0)


@pytest.mark.parametrize("model", ["gpt-tools", "gpt-tools-noid", "gpt-tools-whole"])
async def test_openai_streamed_calls_assemble_whatever_the_server_habits(
    fake_openai: FakeOpenAI, model: str
) -> None:
    deltas = await run(openai(fake_openai), model, [ChatTurn("user", SCRIPT)])
    made = calls_of(deltas)
    assert [(name, json.loads(arguments)) for _, name, arguments in made] == [
        ("file_read", {"path": "data/sales.csv"}),
        ("file_list", {"path": "data"}),
    ]
    assert len({key for key, _, _ in made}) == 2 and all(key for key, _, _ in made)
    if model != "gpt-tools-whole":  # the arguments streamed as they formed
        assert sum(1 for d in deltas if d.call and d.call.arguments) > 4
    sent = fake_openai.seen[-1]
    assert sent["tools"][0] == {
        "type": "function",
        "function": {"name": "file_read", "description": "Read a file.", "parameters": dict(OFFER[0].schema)},
    }


async def test_openai_second_round_sends_the_calls_and_their_results_back(fake_openai: FakeOpenAI) -> None:
    turns = [
        ChatTurn("user", SCRIPT),
        ChatTurn("assistant", "", calls=(MadeCall("c1", "file_read", '{"path": "data/sales.csv"}'),)),
        ChatTurn("tool", "month,revenue", call_id="c1"),
        ChatTurn("assistant", "", calls=(MadeCall("c2", "file_read", '{"path": "b"}'),)),
        ChatTurn("tool", "no such file: b", call_id="c2", is_error=True),
    ]
    deltas = await run(openai(fake_openai), "gpt-tools", turns)
    assert "".join(d.text for d in deltas) == "Results: month,revenue | no such file: b"
    messages = fake_openai.seen[-1]["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "file_read", "arguments": '{"path": "data/sales.csv"}'},
            }
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "c1", "content": "month,revenue"}


async def test_openai_without_tools_sends_no_tools_field(fake_openai: FakeOpenAI) -> None:
    await run(openai(fake_openai), "gpt-ok", [ChatTurn("user", "hello")], tools=[])
    assert "tools" not in fake_openai.seen[-1]  # some servers refuse an empty list


# --- Anthropic ----------------------------------------------------------------------------------

anthropic = pytest.importorskip("anthropic")


class ToolMessages(web.RequestHandler):
    """POST /v1/messages: text, then two tool_use blocks whose input streams in pieces."""

    async def post(self) -> None:
        _, started = begin(self, 5)
        big = json.dumps({"path": "out.txt", "content": "x" * 10_000})
        events = [
            started,
            sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Let me look."}}),
            sse("content_block_stop", {"index": 0}),
            sse(
                "content_block_start",
                {
                    "index": 1,
                    "content_block": {"type": "tool_use", "id": "toolu_1", "name": "file_read", "input": {}},
                },
            ),
            sse(
                "content_block_delta",
                {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"pa'}},
            ),
            sse(
                "content_block_delta",
                {"index": 1, "delta": {"type": "input_json_delta", "partial_json": 'th": "a"}'}},
            ),
            sse("content_block_stop", {"index": 1}),
            sse(
                "content_block_start",
                {
                    "index": 2,
                    "content_block": {"type": "tool_use", "id": "toolu_2", "name": "file_write", "input": {}},
                },
            ),
            *[
                sse(
                    "content_block_delta",
                    {"index": 2, "delta": {"type": "input_json_delta", "partial_json": big[i : i + 700]}},
                )
                for i in range(0, len(big), 700)
            ],
            sse("content_block_stop", {"index": 2}),
            *ending("tool_use", 9),
        ]
        await write_events(self, events)


def fake_anthropic() -> Any:
    return serve(ToolMessages)


async def test_anthropic_tool_use_blocks_stream_their_input_and_results_go_back_as_one_user_turn() -> None:
    from jupyter_resumechat.providers.anthropic import AnthropicProvider

    turns = [
        ChatTurn("user", "look"),
        ChatTurn(
            "assistant",
            "Looking.",
            calls=(MadeCall("toolu_a", "file_read", '{"path": "x"}'), MadeCall("toolu_b", "file_list", "{}")),
        ),
        ChatTurn("tool", "X", call_id="toolu_a"),
        ChatTurn("tool", "denied by the user", call_id="toolu_b", is_error=True),
    ]
    async with fake_anthropic() as (url, seen):
        provider = AnthropicProvider(
            model="claude-test", base_url=url, api_key="sk-ant-test", timeout=10, max_retries=0
        )
        deltas = await run(provider, "claude-test", turns)
    assert "".join(d.text for d in deltas) == "Let me look."
    made = calls_of(deltas)
    assert [(key, name) for key, name, _ in made] == [("toolu_1", "file_read"), ("toolu_2", "file_write")]
    assert json.loads(made[0][2]) == {"path": "a"} and len(json.loads(made[1][2])["content"]) == 10_000
    sent = seen[0]
    assert sent["tools"][0] == {
        "name": "file_read",
        "description": "Read a file.",
        "input_schema": dict(OFFER[0].schema),
    }
    assert sent["messages"][0] == {"role": "user", "content": "look"}
    assert sent["messages"][1]["content"] == [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_a", "name": "file_read", "input": {"path": "x"}},
        {"type": "tool_use", "id": "toolu_b", "name": "file_list", "input": {}},
    ]
    assert sent["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "X"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_b",
                "content": "denied by the user",
                "is_error": True,
            },
        ],
    }


# --- the demo's offline agent -------------------------------------------------------------------


async def test_the_demo_agent_calls_round_by_round_then_answers_with_the_results() -> None:
    prompt = '/tool file_list {"path": ""}\n/tool file_read {"path": "notes.txt"}\n/then\n/tool file_write {"path": "a", "content": "b"}'
    demo = DemoProvider(0)
    first = calls_of(await run(demo, "demo", [ChatTurn("user", prompt)]))
    assert [(name, json.loads(arguments)) for _, name, arguments in first] == [
        ("file_list", {"path": ""}),
        ("file_read", {"path": "notes.txt"}),
    ]
    turns = [
        ChatTurn("user", prompt),
        ChatTurn("assistant", "", calls=tuple(MadeCall(k, n, a) for k, n, a in first)),
        ChatTurn("tool", "file\tnotes.txt", call_id=first[0][0]),
        ChatTurn("tool", "hello", call_id=first[1][0]),
    ]
    second = calls_of(await run(demo, "demo", turns))
    assert [name for _, name, _ in second] == ["file_write"]
    assert second[0][0] != first[0][0]
    turns += [
        ChatTurn("assistant", "", calls=(MadeCall(*second[0]),)),
        ChatTurn("tool", "denied", call_id=second[0][0], is_error=True),
    ]
    answer = "".join(d.text for d in await run(demo, "demo", turns))
    assert "`file_read` answered: hello" in answer and "`file_write` failed: denied" in answer
    plain = await run(demo, "demo", [ChatTurn("user", prompt)], tools=[])  # no tools offered: just text
    assert not calls_of(plain) and "demo model" in "".join(d.text for d in plain)
