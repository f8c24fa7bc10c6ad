"""Leaving and resuming a stream: docs/protocol.md#guarantees invariants over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.fixtures import rebuild

PIECE = "é😀中"


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "stream_ttl": 1.0, "replay_window": 50}


async def until(predicate, timeout: float = 10.0) -> None:
    """Wait for a condition the server reaches on its own (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("how", ["header", "query"])
async def test_resume_mid_stream_rebuilds_exact_text(api, how):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0.002 /repeat 200 {PIECE}")
    first = await api.events(sent["stream_id"], last_id=0, stop_after=20)
    assert [e.id for e in first.events] == list(range(1, 21))
    rest = await api.events(sent["stream_id"], last_id=20, query=(how == "query"))
    assert rest.events[0].event == "delta" and rest.events[0].id == 21
    assert first.text + rest.text == PIECE * 200
    assert rest.events[-1].data["message"]["content"] == PIECE * 200


async def test_many_disconnects_lose_nothing(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0.001 /repeat 300 {PIECE}")
    text, last, seen = "", 0, []
    while True:
        read = await api.events(sent["stream_id"], last_id=last, stop_after=7)
        seen += [e.id for e in read.events]
        text = rebuild(read.events, text)
        last = read.events[-1].id
        if read.events[-1].event == "final":
            break
    assert text == PIECE * 300
    assert len(seen) == len(set(seen))


async def test_late_attach_starts_with_a_snapshot(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0.005 /repeat 100 {PIECE}")
    await api.events(sent["stream_id"], last_id=0, stop_after=10)
    late = await api.events(sent["stream_id"])
    snapshot = late.events[0]
    assert snapshot.event == "snapshot" and snapshot.id >= 10
    assert snapshot.data["message_id"] == sent["assistant_message"]["id"]
    assert snapshot.data["content"] == PIECE * snapshot.id and snapshot.data["status"] == "streaming"
    assert late.events[1].id == snapshot.id + 1
    assert late.text == PIECE * 100


async def test_too_old_an_id_gets_a_snapshot(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0 /repeat 400 {PIECE}")
    await api.wait_final(sent["stream_id"])
    old = await api.events(sent["stream_id"], last_id=3)  # window is 50
    assert old.events[0].event == "snapshot" and old.events[0].id == 400
    assert old.text == PIECE * 400 and old.events[-1].id == 401
    recent = await api.events(sent["stream_id"], last_id=390)
    assert [e.id for e in recent.events] == list(range(391, 402))


async def test_three_subscribers_get_the_exact_text(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0.002 /repeat 150 {PIECE}")
    reads = await asyncio.gather(*[api.events(sent["stream_id"], last_id=0) for _ in range(3)])
    for read in reads:
        assert read.text == PIECE * 150
        assert [e.id for e in read.events] == list(range(1, 152))


async def test_finished_stream_replays_then_expires_to_404(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0 /repeat 30 {PIECE}")
    final = await api.wait_final(sent["stream_id"])
    tail = await api.events(sent["stream_id"], last_id=28)
    assert [(e.id, e.event) for e in tail.events] == [(29, "delta"), (30, "delta"), (31, "final")]
    done = await api.events(sent["stream_id"], last_id=31)
    assert done.status == 204 and done.events == []  # an EventSource stops reconnecting
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30  # stream_ttl is 1 s in this module
    while (gone := await api.events(sent["stream_id"])).status != 404:
        assert gone.status == 200 and loop.time() < deadline
        await asyncio.sleep(0.1)
    messages = await api.messages(conv["id"])
    assert messages[1]["content"] == PIECE * 30 == final["content"]
    assert messages[1]["status"] == "complete"


async def test_disconnect_releases_the_subscriber_at_once(api, extension):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/pace 0.05 /repeat 200 x")
    manager, sid = extension.manager, sent["stream_id"]
    async with api.client.stream("GET", api.url(f"streams/{sid}/events")) as response:
        assert response.status_code == 200
        await until(lambda: manager.subscriber_count(sid) == 1)
    await until(lambda: manager.subscriber_count(sid) == 0)
    assert manager.active_jobs == 1  # the generation goes on without its reader
    await api.request("POST", f"streams/{sid}/abort")


async def test_keepalive_comments_while_the_model_is_quiet(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/pace 0.6 /repeat 3 x")  # heartbeat is 0.5 s here
    lines = []
    async with api.client.stream(
        "GET", api.url(f"streams/{sent['stream_id']}/events"), headers={"Last-Event-ID": "0"}
    ) as response:
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("event: final"):
                break
    assert lines[0].startswith("retry: ")
    assert ": keepalive" in lines
