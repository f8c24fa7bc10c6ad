"""Faults of the model endpoint, through the real ``openai`` SDK (fake endpoint).

1. Text a store cannot keep (U+0000, lone surrogates, a UTF-16 pair split across
   two chunks) is normalised once, when the job receives it: the stream, the
   snapshot, the final, GET messages and the database row hold the same text
   byte for byte, and one such reply never stops the checkpoints of another
   (docs/protocol.md#one-bad-reply).
2. A freeze of the server process longer than ``provider_timeout`` (laptop sleep,
   VM pause) is not the model's silence: the data waited in the socket, so the
   reply completes; a model that really goes silent still times out.
3. A malformed chunk is the model's protocol error: ``error`` with
   ``error.type == "upstream_protocol"``, never ``internal`` with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_openai import (
    BEHAVIOURS,
    FAULT_BEHAVIOURS,
    MALFORMED,
    NORMALISED,
    REASONING_NORMALISED,
    TEXT_FAULTS,
    FakeOpenAI,
    ThreadedFakeOpenAI,
    slow_text,
)
from tests.support.fixtures import SSEEvent, rebuild
from tests.support.server_process import ServerProcess

MODELS = [*BEHAVIOURS, *FAULT_BEHAVIOURS]
READ_TIMEOUT = 30.0  # seconds for any one wait: generous for a loaded 2-core machine


# in-process server (memory+sqlite and redis+postgresql)


@pytest.fixture
def resumechat_config(resumechat_config: dict[str, Any], fake_openai: FakeOpenAI) -> dict[str, Any]:
    return {
        **resumechat_config,
        "provider": "openai",
        "base_url": fake_openai.url,
        "api_key": "sk-test-secret-0123456789",
        "model": "gpt-ok",
        "models": MODELS,
        "provider_max_retries": 0,
        "provider_timeout": 5.0,
        "checkpoint_interval": 0.05,
    }


async def stored(backend: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The message's row as the database holds it; text columns as UTF-8 bytes."""
    url = backend["db_url"]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        conn = sqlite3.connect(path, timeout=10)
        try:
            conn.text_factory = bytes  # the bytes as stored, whatever they are
            row = conn.execute(
                "SELECT status, content, reasoning FROM resumechat_messages WHERE id = ?", (message_id,)
            ).fetchone()
        finally:
            conn.close()
        assert row is not None, message_id
        return {"status": row[0].decode(), "content": row[1], "reasoning": row[2]}
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        row = await conn.fetchrow(
            "SELECT status, content, reasoning FROM resumechat_messages WHERE id = $1", message_id
        )
    finally:
        await conn.close()
    assert row is not None, message_id
    return {
        "status": row["status"],
        "content": row["content"].encode(),
        "reasoning": row["reasoning"].encode(),
    }


def rebuild_reasoning(events: list[SSEEvent]) -> str:
    text = ""
    for event in events:
        if event.event == "snapshot":
            text = event.data.get("reasoning", "")
        elif event.event == "delta":
            text += event.data.get("reasoning", "")
    return text


def utf8(text: str) -> bytes:
    """UTF-8 bytes; a lone surrogate (which no store can keep) shows as such."""
    return text.encode("utf-8", "backslashreplace")


async def every_view(api: Any, backend: dict[str, Any], model: str) -> dict[str, Any]:
    """Send to ``model`` and collect the reply as each reader sees it."""
    conv = await api.conversation()
    sent = await api.send(conv["id"], "hello", model=model)
    sid = sent["stream_id"]
    # every delta from the first (last id 0), then the snapshot of the finished stream
    deltas = await asyncio.wait_for(api.events(sid, last_id=0), READ_TIMEOUT)
    assert deltas.events and deltas.events[-1].event == "final", deltas
    snapshot = await asyncio.wait_for(api.events(sid), READ_TIMEOUT)
    assert snapshot.events and snapshot.events[0].event == "snapshot", snapshot
    final = deltas.events[-1].data["message"]
    listed = (await api.messages(conv["id"]))[1]
    row = await stored(backend, sent["assistant_message"]["id"])
    return {"deltas": deltas, "snapshot": snapshot, "final": final, "listed": listed, "row": row}


@pytest.mark.parametrize("model", list(TEXT_FAULTS))
async def test_text_a_store_cannot_keep_is_normalised_once(api, backend, model):
    """U+0000 and lone surrogates become U+FFFD, a pair split across chunks is
    joined; stream, snapshot, final, GET messages and the row agree byte for byte."""
    views = await every_view(api, backend, model)
    final = views["final"]
    expected = utf8(NORMALISED[model])
    seen = {
        "final status": final["status"],
        "final error": final["error"],
        "stream (all deltas)": utf8(views["deltas"].text),
        "stream (snapshot + rest)": utf8(views["snapshot"].text),
        "final content": utf8(final["content"]),
        "GET messages content": utf8(views["listed"]["content"]),
        "GET messages status": views["listed"]["status"],
        "database content": views["row"]["content"],
        "database status": views["row"]["status"],
    }
    assert seen == {
        "final status": "complete",
        "final error": None,
        "stream (all deltas)": expected,
        "stream (snapshot + rest)": expected,
        "final content": expected,
        "GET messages content": expected,
        "GET messages status": "complete",
        "database content": expected,
        "database status": "complete",
    }


async def test_reasoning_a_store_cannot_keep_is_normalised_once(api, backend):
    """The same for reasoning text: it is checkpointed and committed as well."""
    views = await every_view(api, backend, "gpt-nul-reasoning")
    final = views["final"]
    expected = utf8(REASONING_NORMALISED)
    seen = {
        "final status": final["status"],
        "stream (all deltas)": utf8(rebuild_reasoning(views["deltas"].events)),
        "stream (snapshot + rest)": utf8(rebuild_reasoning(views["snapshot"].events)),
        "final reasoning": utf8(final.get("reasoning", "")),
        "GET messages reasoning": utf8(views["listed"].get("reasoning", "")),
        "database reasoning": views["row"]["reasoning"],
        "database content": views["row"]["content"],
    }
    assert seen == {
        "final status": "complete",
        "stream (all deltas)": expected,
        "stream (snapshot + rest)": expected,
        "final reasoning": expected,
        "GET messages reasoning": expected,
        "database reasoning": expected,
        "database content": b"Echo: fine",
    }


async def wait_for(condition: Any, what: str, timeout: float = READ_TIMEOUT, every: float = 0.05) -> Any:
    """Poll the async ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = await condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every)


@pytest.mark.parametrize("backend", ["redis+postgresql"], indirect=True)
async def test_a_nul_in_one_reply_does_not_stop_the_checkpoints_of_another(api, backend, fake_openai):
    """On PostgreSQL (which refuses U+0000), a reply that received a NUL keeps
    running while an unrelated reply on the same server keeps being checkpointed:
    its row in the database (read directly, not through GET messages, which shows
    live content) grows while the bad reply still streams."""
    good_conv, bad_conv = await api.conversation(), await api.conversation()
    good_prompt, bad_prompt = "good count=120 pace=0.1", "bad count=250 pace=0.1"
    good = await api.send(good_conv["id"], good_prompt, model="gpt-slow")
    good_id = good["assistant_message"]["id"]
    bad: dict[str, Any] | None = None
    try:

        async def good_checkpointed() -> bool:
            row = await stored(backend, good_id)
            return len(row["content"]) > len("Echo: w0 ")

        await wait_for(good_checkpointed, "a first checkpoint of the good reply", every=0.1)

        bad = await api.send(bad_conv["id"], bad_prompt, model="gpt-slow-nul")

        async def bad_past_its_nul() -> bool:
            # the chunk after the NUL reached the job: the NUL is in its text now
            content = (await api.messages(bad_conv["id"]))[1]["content"]
            return "w0 " in content

        await wait_for(bad_past_its_nul, "the bad reply to receive the chunk after its NUL")
        before = len((await stored(backend, good_id))["content"])

        async def good_grew() -> bool:
            row = await stored(backend, good_id)
            assert row["status"] == "streaming", (
                f"the good reply ended ({row['status']}) without any checkpoint after the bad "
                f"reply's NUL: its row stayed at {before} bytes while it streamed"
            )
            return len(row["content"]) > before

        await wait_for(
            good_grew, "a checkpoint of the good reply after the bad reply's NUL", timeout=20, every=0.1
        )
        status = (await api.request("GET", f"conversations/{bad_conv['id']}/stream")).json()
        assert status["active"] and status["stream_id"] == bad["stream_id"], (
            "the bad reply must still be streaming while the good one is checkpointed",
            status,
        )
    finally:
        for sent in (good, bad):
            if sent is not None:
                await api.request("POST", f"streams/{sent['stream_id']}/abort")
    # the bad reply itself: aborted with its text normalised, stored as announced
    final = await asyncio.wait_for(api.wait_final(bad["stream_id"]), READ_TIMEOUT)
    row = await stored(backend, bad["assistant_message"]["id"])
    assert final["status"] == "aborted", final
    assert final["content"].startswith("Echo: bad\ufffd w0 ")
    assert row["content"] == final["content"].encode() and row["status"] == "aborted"


# 3. malformed chunks (in process)


@pytest.mark.parametrize("model", list(MALFORMED))
async def test_a_malformed_chunk_is_an_upstream_protocol_error(api, model, caplog):
    """Invalid JSON, or valid JSON of the wrong shape: ``error`` /
    ``upstream_protocol`` with the text before it kept, and no traceback logged."""
    caplog.set_level(logging.INFO)
    conv = await api.conversation()
    sent = await api.send(conv["id"], "hello big world", model=model)
    final = await asyncio.wait_for(api.wait_final(sent["stream_id"]), READ_TIMEOUT)
    assert (final["status"], (final["error"] or {}).get("type")) == ("error", "upstream_protocol"), final
    assert final["content"].startswith("Echo: hello ")
    assert (await api.messages(conv["id"]))[1] == final
    logged = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not logged, [f"{r.name}: {r.getMessage()}" for r in logged]
    assert "Traceback" not in caplog.text


# real server processes (2. freezes, and 3. the server's own log)


@pytest.fixture
def process(tmp_path: Path, threaded_fake: ThreadedFakeOpenAI) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path,
        provider="openai",
        base_url=threaded_fake.url,
        api_key="sk-test",
        model="gpt-steady",
        provider_timeout=2,
        provider_max_retries=0,
        checkpoint_interval=0.1,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        extra=[f"--ResumeChat.models={m}" for m in ["gpt-stall", *MALFORMED]],
    )
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)  # never leave it stopped
        server.stop()


def poll(condition: Any, what: str, timeout: float = READ_TIMEOUT, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def send(server: ServerProcess, client: httpx.Client, content: str, model: str) -> tuple[str, dict]:
    conv = client.post(server.url("conversations"), json={}).json()
    sent = client.post(
        server.url(f"conversations/{conv['id']}/messages"), json={"content": content, "model": model}
    )
    assert sent.status_code == 202, sent.text
    return conv["id"], sent.json()


def finished_reply(server: ServerProcess, client: httpx.Client, cid: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        reply = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"][1]
        return None if reply["status"] == "streaming" else reply

    return poll(done, "the reply to end", every=0.1)


def test_a_freeze_longer_than_the_timeout_is_not_the_models_silence(process, threaded_fake):
    """SIGSTOP the server for 5 s (> provider_timeout = 2 s) while the model keeps
    writing into the socket; after SIGCONT the reply completes with every word."""
    prompt = "freeze count=80 pace=0.1"
    with httpx.Client(headers=process.headers, timeout=10) as client:
        process.start()
        cid, sent = send(process, client, prompt, "gpt-steady")

        def streaming() -> bool:  # the server is reading the model's stream
            reply = client.get(process.url(f"conversations/{cid}/messages")).json()["messages"][1]
            return "w2 " in reply["content"]

        poll(streaming, "the reply to start streaming")
        served = threaded_fake.request(prompt)
        assert served is not None and not served.finished
        at_stop = served.chunks
        assert process.proc is not None
        os.kill(process.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(5.0)  # the deliberate freeze: longer than provider_timeout
            during = served.chunks
        finally:
            os.kill(process.proc.pid, signal.SIGCONT)
        assert during > at_stop + 10, "the fake must keep writing while the server is frozen"
        reply = finished_reply(process, client, cid)
        assert (reply["status"], reply["error"]) == ("complete", None), reply
        assert reply["content"] == slow_text(80)
        assert served.finished
        events = client.get(
            process.url(f"streams/{sent['stream_id']}/events"), headers={"Last-Event-ID": "0"}
        )
        assert events.status_code == 200
        assert rebuild(sse_events(events.text)) == slow_text(80)


def sse_events(body: str) -> list[SSEEvent]:
    """The events of a whole (finished) event-stream body."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            found.append(
                SSEEvent(int(fields["id"]), fields.get("event", "message"), json.loads(fields["data"]))
            )
    return found


def test_a_model_that_really_goes_silent_still_times_out(process):
    """The control: gpt-stall sends nothing after "Echo: hello " for 30 s."""
    with httpx.Client(headers=process.headers, timeout=10) as client:
        process.start()
        cid, _ = send(process, client, "hello big world", "gpt-stall")
        reply = finished_reply(process, client, cid)
        assert reply["status"] == "error" and reply["error"]["type"] == "timeout", reply
        assert reply["content"] == "Echo: hello "


def test_malformed_chunks_leave_no_traceback_in_the_server_log(process):
    """Every malformed model on a real server: upstream_protocol, and the log
    (stdout and stderr of ``jupyter server``) holds no traceback."""
    with httpx.Client(headers=process.headers, timeout=10) as client:
        process.start()
        sends = {model: send(process, client, "hello big world", model)[0] for model in MALFORMED}
        replies = {model: finished_reply(process, client, cid) for model, cid in sends.items()}
        kinds = {model: (r["status"], (r["error"] or {}).get("type")) for model, r in replies.items()}
        assert kinds == {model: ("error", "upstream_protocol") for model in MALFORMED}
        log = process.read_log()
        assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]
