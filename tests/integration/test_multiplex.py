"""One connection for a page's streams: ``GET streams/events`` (issue 14).

Each stream on the shared connection must behave as ``GET streams/{sid}/events``
does on its own: snapshot or replay from its last id, deltas, the final, exactly
once (docs/protocol.md#exactly-once), its ids its own; a stream gone for the reader is a ``gone``
for that stream alone.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jupyter_resumechat.eventstream import MAX_STREAMS
from tests.integration.test_bad_input import assert_error
from tests.integration.test_resume import until

PIECES = ["é😀中", "ab", "x\ny"]


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "stream_ttl": 1.0, "replay_window": 50}


async def start(api, pace: float, repeat: int) -> list[dict]:
    """One reply per piece, each in a conversation of its own, streaming at once."""
    sent = []
    for piece in PIECES:
        conv = await api.conversation()
        sent.append(await api.send(conv["id"], f"/pace {pace} /repeat {repeat} {piece}"))
    return sent


def assert_exact(read, sid: str, piece: str, repeat: int, first: int | None = None) -> None:
    """Consecutive ids from the start (or a snapshot), the exact text, then the final."""
    events = read.events[sid]
    ids = [e.id for e in events]
    start = events[0].id if events[0].event == "snapshot" else (first or 1)
    assert ids == list(range(start, start + len(ids))), ids
    assert events[-1].event == "final" and events[-1].data["message"]["content"] == piece * repeat
    assert read.text(sid) == piece * repeat


async def test_several_streams_share_one_connection_exactly_once(api):
    sent = await start(api, 0.004, 120)
    read = await api.multiplexed({s["stream_id"]: 0 for s in sent})
    assert read.status == 200 and read.ended and not read.gone
    assert float(read.headers["x-resumechat-heartbeat"]) == 0.5
    for s, piece in zip(sent, PIECES, strict=True):
        assert_exact(read, s["stream_id"], piece, 120, first=1)
    assert len(set(read.order[:60])) == len(PIECES)  # interleaved while live, not one after another


async def test_no_last_id_starts_with_a_snapshot(api):
    sent = await start(api, 0.005, 80)
    for s in sent:
        await api.events(s["stream_id"], last_id=0, stop_after=10)
    read = await api.multiplexed({s["stream_id"]: None for s in sent})
    for s, piece in zip(sent, PIECES, strict=True):
        snapshot = read.events[s["stream_id"]][0]
        assert snapshot.event == "snapshot" and snapshot.id >= 10
        assert snapshot.data["message_id"] == s["assistant_message"]["id"]
        assert_exact(read, s["stream_id"], piece, 80)


async def test_resuming_with_each_streams_last_id_loses_and_repeats_nothing(api):
    sent = await start(api, 0.002, 200)
    sids = [s["stream_id"] for s in sent]
    positions: dict[str, int | None] = dict.fromkeys(sids, 0)
    seen: dict[str, list] = {sid: [] for sid in sids}
    while positions:
        read = await api.multiplexed(positions, stop_after=37)
        for sid, events in read.events.items():
            seen[sid] += events
            if events[-1].event == "final":
                del positions[sid]
            else:
                positions[sid] = events[-1].id
    for sid, piece in zip(sids, PIECES, strict=True):
        ids = [e.id for e in seen[sid]]
        assert ids == list(range(1, len(ids) + 1))  # exactly once, in order, across reconnects
        assert seen[sid][-1].data["message"]["content"] == piece * 200
        from tests.support.fixtures import rebuild

        assert rebuild(seen[sid]) == piece * 200


async def test_a_finished_stream_replays_and_one_read_to_its_final_is_gone(api):
    (done, live, *_) = await start(api, 0.01, 30)
    final = await api.wait_final(done["stream_id"])
    whole = await api.events(done["stream_id"], last_id=0)
    last = whole.events[-1].id
    read = await api.multiplexed({done["stream_id"]: 10, live["stream_id"]: None})
    assert [e.id for e in read.events[done["stream_id"]]] == list(range(11, last + 1))
    assert read.events[done["stream_id"]][-1].data["message"] == final
    assert_exact(read, live["stream_id"], PIECES[1], 30)
    at_final = await api.multiplexed({done["stream_id"]: last, live["stream_id"]: None})
    assert at_final.gone == {done["stream_id"]: "ended"}  # the single endpoint's 204
    assert done["stream_id"] not in at_final.events and at_final.ended


async def test_unknown_and_expired_streams_are_gone_alone(api):
    (old, live, *_) = await start(api, 0.0, 5)
    await api.wait_final(old["stream_id"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await api.request("GET", f"streams/{old['stream_id']}/events")).status_code != 404:
        assert loop.time() < deadline, "the stream did not expire"
        await asyncio.sleep(0.1)
    conv = await api.conversation()
    live = await api.send(conv["id"], "/pace 0.01 /repeat 20 z")
    read = await api.multiplexed({"nosuchstream": None, old["stream_id"]: 3, live["stream_id"]: 0})
    assert read.gone == {"nosuchstream": "unknown", old["stream_id"]: "unknown"}
    assert read.status == 200 and read.ended
    assert_exact(read, live["stream_id"], "z", 20, first=1)


async def test_only_gone_streams_end_the_response_at_once(api):
    read = await api.multiplexed({"a": None, "b": 4})
    assert read.status == 200 and read.ended and read.gone == {"a": "unknown", "b": "unknown"}


async def test_keepalives_while_the_streams_are_quiet(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/wait 1.6 /repeat 2 q")
    url = api.url("streams/events")
    async with api.client.stream("GET", url, params={"streams": f"{sent['stream_id']}:0"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["x-resumechat-heartbeat"] == "0.5"
        body = b""
        async for chunk in response.aiter_bytes():
            body += chunk
    head, _, rest = body.partition(b"id: ")
    assert head.startswith(b"retry: 2000\n\n") and head.count(b": keepalive\n\n") >= 2  # 1.6 s at 0.5 s
    assert rest.startswith(f"{sent['stream_id']}:1\nevent: delta\n".encode())


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"streams": ""},
        {"streams": "a b"},
        {"streams": "a/b"},
        {"streams": "a:x"},
        {"streams": "a:-1"},
        {"streams": "a:99999999999999999999"},
        {"streams": "a:1,a:2"},
        {"streams": "a,,b"},
        {"streams": "x" * 65},
        {"streams": "\udcff"},
        {"streams": ",".join(f"s{i}" for i in range(MAX_STREAMS + 1))},
    ],
)
async def test_malformed_streams_are_a_400(api, query):
    try:
        response = await api.client.get(api.url("streams/events"), params=query)
    except UnicodeEncodeError:
        response = await api.client.get(api.url("streams/events") + "?streams=%ED%B3%BF")
    assert_error(response, 400, "invalid_request")


async def test_as_many_streams_as_allowed_and_a_repeated_parameter(api):
    names = [f"s{i}" for i in range(MAX_STREAMS - 1)]
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/repeat 3 ok")
    params = [("streams", ",".join(names)), ("streams", f"{sent['stream_id']}:0")]
    async with api.client.stream("GET", api.url("streams/events"), params=params) as response:
        assert response.status_code == 200
        body = (await response.aread()).decode()
    assert body.count("event: gone") == MAX_STREAMS - 1 and body.count("event: final") == 1


async def test_needs_credentials(api):
    async with httpx.AsyncClient() as anonymous:
        response = await anonymous.get(api.url("streams/events"), params={"streams": "a"})
    assert_error(response, 403)


async def test_a_reader_that_leaves_releases_every_stream_at_once(api, extension):
    sent = await start(api, 0.05, 200)
    manager, sids = extension.manager, [s["stream_id"] for s in sent]
    query = ",".join(sids)
    async with api.client.stream("GET", api.url("streams/events"), params={"streams": query}) as response:
        assert response.status_code == 200
        await until(lambda: all(manager.subscriber_count(sid) == 1 for sid in sids))
    await until(lambda: all(manager.subscriber_count(sid) == 0 for sid in sids))
    assert manager.active_jobs == len(sids)  # the generations go on without their reader
    for sid in sids:
        await api.request("POST", f"streams/{sid}/abort")
