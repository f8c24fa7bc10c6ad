"""The conversation sent to the model fits its token budget, and each reply
records the window it was made in (docs/protocol.md#context ``window``, ``context_tokens``)."""

from __future__ import annotations

import pytest

from jupyter_resumechat.jobs.window import PER_MESSAGE, estimate
from tests.support.fake_openai import BEHAVIOURS

BUDGET = 120


@pytest.fixture
def resumechat_config(resumechat_config, fake_openai):
    return {
        **resumechat_config,
        "provider": "openai",
        "base_url": fake_openai.url,
        "api_key": "sk-test",
        "model": "gpt-ok",
        "models": BEHAVIOURS,
        "provider_max_retries": 0,
        "context_tokens": {"gpt-ok": BUDGET, "*": 100_000},
        "context_item_chars": 500,
    }


async def test_the_model_gets_the_newest_turns_within_its_budget(api, fake_openai):
    conv = await api.conversation()
    finals = []
    for i in range(8):
        sent = await api.send(conv["id"], f"question number {i} " + "words " * 8, model="gpt-ok")
        finals.append(await api.wait_final(sent["stream_id"]))
    stored = await api.messages(conv["id"])
    every = [{"role": m["role"], "content": m["content"]} for m in stored]
    seen = fake_openai.seen[-1]["messages"]
    # a suffix of the conversation that starts with a user turn and ends with the current message
    assert seen == every[len(every) - 1 - len(seen) : -1]
    assert seen[0]["role"] == "user" and seen[-1] == every[-2]
    window = finals[-1]["window"]
    assert window["budget"] == BUDGET and 0 < window["tokens"] <= BUDGET
    assert window["omitted"] == len(every) - 1 - len(seen) > 0
    # the next older turn would not have fitted (at the scale the model's counts taught)
    first = finals[0]["window"]
    assert first == {"budget": BUDGET, "tokens": estimate(every[0]["content"]) + PER_MESSAGE, "omitted": 0}
    assert stored[-1]["window"] == window  # kept with the reply


async def test_the_current_message_and_its_context_are_never_left_out(api, fake_openai):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "warm up", model="gpt-ok")
    await api.wait_final(sent["stream_id"])
    context = [{"kind": "text", "name": "notes", "content": "n" * 400}]
    sent = await api.send(conv["id"], "big " * 300, model="gpt-ok", context=context)
    final = await api.wait_final(sent["stream_id"])
    seen = fake_openai.seen[-1]["messages"]
    assert len(seen) == 1 and seen[0]["content"].endswith("\n\n" + "big " * 300)
    assert "n" * 400 in seen[0]["content"]
    assert final["window"]["tokens"] > BUDGET and final["window"]["omitted"] == 2


async def test_an_attached_item_is_cut_to_its_bound_saying_so(api, fake_openai):
    conv = await api.conversation()
    context = [{"kind": "variable", "name": "df", "content": "x" * 2000}]
    sent = await api.send(conv["id"], "what is it?", model="gpt-reasoning", context=context)
    item = sent["user_message"]["context"][0]
    assert len(item["content"]) == 500 and item["content"].endswith("(1500 more characters left out)")
    await api.wait_final(sent["stream_id"])
    assert (await api.messages(conv["id"]))[0]["context"] == [item]
    assert item["content"] in fake_openai.seen[-1]["messages"][-1]["content"]


async def test_models_say_their_budget(api):
    models = (await api.request("GET", "models")).json()["models"]
    budgets = {m["id"]: m["context_tokens"] for m in models}
    assert budgets["gpt-ok"] == BUDGET and budgets["gpt-500"] == 100_000
