"""Tool calls assembled from streamed pieces, as each API and server streams them."""

from __future__ import annotations

import json

from jupyter_resumechat.providers.toolcalls import ToolCallAssembler


def test_openai_calls_split_across_chunks_several_in_one_turn() -> None:
    calls = ToolCallAssembler()
    calls.openai(0, "call_a", "file_read", "")
    calls.openai(1, "call_b", "file_list", '{"pa')
    calls.openai(0, None, None, '{"path": ')
    calls.openai(1, None, None, 'th": "."}')
    _, added = calls.openai(0, None, None, '"a.txt"}')
    assert added == '"a.txt"}'
    assert [(c.provider_id, c.name, json.loads(c.arguments)) for c in calls.calls] == [
        ("call_a", "file_read", {"path": "a.txt"}),
        ("call_b", "file_list", {"path": "."}),
    ]


def test_a_model_that_sends_no_id_gets_one() -> None:
    calls = ToolCallAssembler()
    calls.openai(0, None, "file_read", '{"path": "a"}')
    calls.openai(1, "", "file_list", "{}")
    first, second = calls.calls
    assert first.provider_id.startswith("call_") and second.provider_id.startswith("call_")
    assert first.provider_id != second.provider_id


def test_one_index_reused_for_calls_that_each_carry_an_id() -> None:
    calls = ToolCallAssembler()  # as some local servers stream: every call whole, all at index 0
    calls.openai(0, "c1", "file_read", '{"path": "a"}')
    calls.openai(0, "c2", "file_read", '{"path": "b"}')
    calls.openai(0, "c2", None, "")  # the same id again continues that call
    assert [(c.provider_id, c.arguments) for c in calls.calls] == [
        ("c1", '{"path": "a"}'),
        ("c2", '{"path": "b"}'),
    ]


def test_unnumbered_pieces_start_a_call_with_an_id_and_continue_the_last_without() -> None:
    calls = ToolCallAssembler()
    calls.openai(None, "c1", "file_list", '{"path"')
    calls.openai(None, None, None, ': "x"}')
    calls.openai(None, "c2", "file_read", '{"path": "y"}')
    assert [(c.name, c.arguments) for c in calls.calls] == [
        ("file_list", '{"path": "x"}'),
        ("file_read", '{"path": "y"}'),
    ]


def test_anthropic_tool_use_blocks_between_text_blocks() -> None:
    calls = ToolCallAssembler()
    assert calls.anthropic_delta(0, "text is not a call") is None
    calls.anthropic_start(1, "toolu_1", "file_write")
    calls.anthropic_delta(1, '{"path": "out.txt", ')
    calls.anthropic_delta(1, '"content": "' + "x" * 10_000 + '"}')
    calls.anthropic_start(2, "toolu_2", "file_read")
    calls.anthropic_delta(2, '{"path": "out.txt"}')
    first, second = calls.calls
    assert json.loads(first.arguments)["content"] == "x" * 10_000
    assert (second.provider_id, second.name) == ("toolu_2", "file_read")
