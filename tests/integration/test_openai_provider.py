"""The real ``openai`` SDK path against a local server speaking its API."""

from __future__ import annotations

import pytest

from tests.support.fake_openai import BEHAVIOURS


@pytest.fixture
def resumechat_config(resumechat_config, fake_openai):
    return {
        **resumechat_config,
        "provider": "openai",
        "base_url": fake_openai.url,
        "api_key": "sk-test-secret-0123456789",
        "model": "gpt-ok",
        "models": BEHAVIOURS,
        "provider_max_retries": 0,
        "provider_timeout": 2.0,
        "checkpoint_interval": 0.05,
    }


async def reply(api, model: str, content: str = "hello big world"):
    conv = await api.conversation()
    sent = await api.send(conv["id"], content, model=model)
    final = await api.wait_final(sent["stream_id"])
    stored = (await api.messages(conv["id"]))[1]
    assert stored == final  # persisted before announced
    return conv, final


async def test_streams_through_the_sdk_with_context(api, fake_openai):
    conv, final = await reply(api, "gpt-ok")
    assert final["status"] == "complete", final
    assert final["content"] == "Echo: hello big world "
    assert final["model"] == "gpt-ok"
    sent = await api.send(conv["id"], "second turn", model="gpt-ok")
    await api.wait_final(sent["stream_id"])
    assert fake_openai.seen[-1]["messages"] == [
        {"role": "user", "content": "hello big world"},
        {"role": "assistant", "content": "Echo: hello big world "},
        {"role": "user", "content": "second turn"},
    ]
    assert fake_openai.seen[-1]["stream"] is True


async def test_context_is_stored_with_the_message_and_shown_to_the_model(api, fake_openai):
    conv = await api.conversation()
    context = [
        {"kind": "cell", "name": "cell 3", "content": "df = load()"},
        {"kind": "error", "name": "last error", "content": "KeyError: 'x'"},
    ]
    sent = await api.send(conv["id"], "why?", model="gpt-ok", context=context)
    assert sent["user_message"]["context"] == context
    await api.wait_final(sent["stream_id"])
    stored = await api.messages(conv["id"])
    assert stored[0]["context"] == context and stored[1]["context"] == []
    seen = fake_openai.seen[-1]["messages"][-1]["content"]
    assert seen == (
        '<context kind="cell" name="cell 3">\ndf = load()\n</context>\n\n'
        '<context kind="error" name="last error">\nKeyError: \'x\'\n</context>\n\nwhy?'
    )


async def test_models_lists_the_configured_ones(api):
    models = (await api.request("GET", "models")).json()
    assert models["default"] == "gpt-ok"
    assert [m["id"] for m in models["models"]] == BEHAVIOURS
    assert {m["provider"] for m in models["models"]} == {"openai"}


async def test_reasoning_content(api):
    _, final = await reply(api, "gpt-reasoning")
    assert final["reasoning"] == "let me think" and final["content"].startswith("Echo")


async def test_500_before_the_first_chunk(api):
    _, final = await reply(api, "gpt-500")
    assert final["status"] == "error" and final["content"] == ""
    assert final["error"]["type"] == "upstream_status" and "500" in final["error"]["detail"]


async def test_connection_cut_mid_stream_keeps_the_partial_text(api):
    _, final = await reply(api, "gpt-cut")
    assert final["status"] == "error" and final["content"] == "Echo: hello "
    assert final["error"]["type"] in {"connection", "incomplete"}


async def test_stall_past_the_timeout(api):
    _, final = await reply(api, "gpt-stall")
    assert final["status"] == "error" and final["content"] == "Echo: hello "
    assert final["error"]["type"] == "timeout"


async def test_stream_that_never_finishes(api):
    _, final = await reply(api, "gpt-unfinished")
    assert final["status"] == "error" and final["error"]["type"] == "incomplete"
    assert final["content"] == "Echo: hello big world "


async def test_malformed_chunk(api):
    _, final = await reply(api, "gpt-garbage")
    assert (final["status"], final["error"]["type"], final["content"][:11]) == (
        "error",
        "upstream_protocol",
        "Echo: hello",
    )


async def test_slow_first_token_within_the_timeout_completes(api):
    _, final = await reply(api, "gpt-slow-first")
    assert final["status"] == "complete"


async def test_the_api_key_never_reaches_clients(api, jp_serverapp):
    conv, final = await reply(api, "gpt-500")
    answers = [
        await api.request("GET", p)
        for p in ["models", "conversations", f"conversations/{conv['id']}/messages", "openapi.json"]
    ]
    for answer in answers:
        assert "sk-test-secret" not in answer.text
    assert "sk-test-secret" not in str(final)


async def test_continue_and_regenerate_as_the_model_sees_them(api, fake_openai):
    """Continue: the reply so far, then the hidden request to go on; regenerate:
    the conversation up to the user's message, as if the reply never was."""
    from jupyter_resumechat.providers import CONTINUE_PROMPT

    conv, cut = await reply(api, "gpt-cut")
    assert cut["status"] == "error" and cut["content"], cut
    answer = await api.request(
        "POST", f"conversations/{conv['id']}/messages", json={"continue": cut["id"], "model": "gpt-ok"}
    )
    assert answer.status_code == 202, answer.text
    final = await api.wait_final(answer.json()["stream_id"])
    assert fake_openai.seen[-1]["messages"] == [
        {"role": "user", "content": "hello big world"},
        {"role": "assistant", "content": cut["content"]},
        {"role": "user", "content": CONTINUE_PROMPT},
    ]
    assert final["status"] == "complete" and final["error"] is None
    assert final["content"] == cut["content"] + f"Echo: {CONTINUE_PROMPT} "
    assert final["model"] == "gpt-ok"

    answer = await api.request(
        "POST", f"conversations/{conv['id']}/messages", json={"regenerate": cut["id"], "model": "gpt-ok"}
    )
    final = await api.wait_final(answer.json()["stream_id"])
    assert fake_openai.seen[-1]["messages"] == [{"role": "user", "content": "hello big world"}]
    assert final["content"] == "Echo: hello big world "
    assert [m["role"] for m in await api.messages(conv["id"])] == ["user", "assistant"]


async def test_usage_is_asked_for_recorded_and_kept(api, fake_openai):
    """``stream_options.include_usage``: the endpoint's token counts end up on the reply."""
    conv, final = await reply(api, "gpt-ok", "count these four")
    assert fake_openai.seen[-1]["stream_options"] == {"include_usage": True}
    # the fake counts prompt words (3) and the pieces it sent ("Echo", ": " and three words)
    assert final["usage"] == {"input_tokens": 3, "output_tokens": 5}
    assert (await api.messages(conv["id"]))[1]["usage"] == final["usage"]
