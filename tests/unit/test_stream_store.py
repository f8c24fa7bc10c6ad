"""The StreamStore contract (streams/base.py), run on every implementation."""

from __future__ import annotations

import asyncio
import random

import pytest

from jupyter_resumechat.errors import GenerationActive, NotFound
from jupyter_resumechat.eventstream import Reply, decode_block, encode_event
from jupyter_resumechat.models import EventKind, utcnow
from jupyter_resumechat.streams import MemoryStreamStore, StreamInfo
from tests.support.stores import owned

PIECES = ["a", "é", "😀", "中文", " ", "\n", "x" * 50, "\u2028"]


def info(sid: str = "s1", cid: str = "c1") -> StreamInfo:
    return StreamInfo(sid, cid, f"m-{sid}", utcnow(), owner="u")


class _Factory:
    """Builds stores inside the test's loop and remembers them to close them."""

    def __init__(self, build):
        self.build, self.created = build, []

    def __call__(self, window: int = 10_000):
        store = self.build(window)
        self.created.append(store)
        return store


@pytest.fixture(params=["memory", "redis", "redis-coalesced"])
def make_store(request):
    if request.param == "memory":
        return _Factory(lambda window: MemoryStreamStore(replay_window=window))
    from jupyter_resumechat.streams.redis import RedisStreamStore
    from tests.support.services import REDIS_URL

    prefix = request.getfixturevalue("redis_prefix")
    coalesce = 0.01 if request.param == "redis-coalesced" else 0.0
    return _Factory(
        lambda window: owned(
            RedisStreamStore(REDIS_URL, replay_window=window, prefix=prefix, coalesce=coalesce)
        )
    )


@pytest.fixture
def run(make_store):
    def runner(coro):
        async def wrapped():
            try:
                return await coro
            finally:
                for store in make_store.created:
                    await store.close()

        return asyncio.run(wrapped())

    return runner


def rebuild(events, text=""):
    """Through the wire and back: encoded, decoded, rebuilt by the one ``Reply``."""
    reply = Reply.resuming(text)
    for event in events:
        if event.kind is not EventKind.FINAL:
            reply.apply(decode_block(encode_event(event).rstrip(b"\n")))
    return reply.content


async def filled(store, n: int, sid: str = "s1") -> str:
    await store.open(info(sid))
    expected = ""
    for i in range(n):
        piece = PIECES[i % len(PIECES)]
        assert await store.append(sid, text=piece) == i + 1
        expected += piece
    return expected


def test_ids_are_consecutive_and_deltas_exact(run, make_store) -> None:
    async def main():
        store = make_store(100)
        expected = await filled(store, 40)
        batch = await store.read_after("s1", 0, 0)
        assert [e.id for e in batch.events] == list(range(1, 41))
        assert rebuild(batch.events) == expected
        assert not batch.done

    run(main())


def test_no_last_id_gives_a_snapshot_then_live(run, make_store) -> None:
    async def main():
        store = make_store()
        expected = await filled(store, 5)
        batch = await store.read_after("s1", None, 0)
        assert [(e.id, e.kind) for e in batch.events] == [(5, EventKind.SNAPSHOT)]
        assert batch.events[0].data == {
            "message_id": "m-s1",
            "content": expected,
            "reasoning": "",
            "status": "streaming",
        }
        waiting = asyncio.create_task(store.read_after("s1", 5, 5))
        await asyncio.sleep(0.01)
        await store.append("s1", text="!")
        batch = await waiting
        assert [(e.id, e.data) for e in batch.events] == [(6, {"text": "!"})]

    run(main())


@pytest.mark.parametrize("seed", range(20))
def test_exactly_once_for_any_resume_points(run, make_store, seed: int) -> None:
    """docs/protocol.md#exactly-once for random disconnects, resumes with and without ids, and a small window."""

    async def main():
        rng = random.Random(seed)
        store = make_store(rng.choice([1, 5, 50, 1000]))
        await store.open(info())
        truth, text, last = "", "", None
        for _step in range(300):
            if rng.random() < 0.6:
                piece = rng.choice(PIECES)
                if rng.random() < 0.1:
                    await store.append("s1", reasoning=piece)
                else:
                    await store.append("s1", text=piece)
                    truth += piece
            if rng.random() < 0.3:
                if rng.random() < 0.1:
                    last, text = None, ""  # reconnect without an id
                batch = await store.read_after("s1", last, 0)
                ids = [e.id for e in batch.events]
                assert ids == sorted(set(ids))
                if last is not None and batch.events and batch.events[0].kind is EventKind.DELTA:
                    assert ids[0] == last + 1
                text = rebuild(batch.events, text)
                if batch.events:
                    last = batch.events[-1].id
                assert text == truth
        await store.finish("s1", {"status": "complete"}, ttl=10)
        batch = await store.read_after("s1", last, 0)
        assert rebuild(batch.events, text) == truth and batch.done
        assert batch.events[-1].kind is EventKind.FINAL

    run(main())


def test_window_bounds_memory_and_old_ids_get_a_snapshot(run, make_store) -> None:
    async def main():
        store = make_store(100)
        expected = await filled(store, 5000)
        if isinstance(store, MemoryStreamStore):
            assert len(store._logs["s1"].text_ends) <= 100 + 64
        batch = await store.read_after("s1", 10, 0)
        assert batch.events[0].kind is EventKind.SNAPSHOT and batch.events[0].id == 5000
        assert rebuild(batch.events) == expected
        batch = await store.read_after("s1", 4990, 0)
        assert [e.id for e in batch.events] == list(range(4991, 5001))

    run(main())


def test_finish_then_read_then_expire(run, make_store) -> None:
    async def main():
        store = make_store()
        await filled(store, 3)
        final_id = await store.finish("s1", {"status": "complete", "content": "x"}, ttl=0.05)
        assert final_id == 4
        assert await store.active("c1") is None
        batch = await store.read_after("s1", 2, 5)
        assert [e.id for e in batch.events] == [3, 4] and batch.done
        assert (await store.read_after("s1", 4, 5)).done
        snap = await store.read_after("s1", None, 0)
        assert snap.events[0].data["status"] == "complete" and snap.done
        await asyncio.sleep(0.1)
        with pytest.raises(NotFound):
            await store.read_after("s1", None, 0)
        with pytest.raises(NotFound):
            await store.info("s1")

    run(main())


def test_a_last_id_past_the_final_gets_the_snapshot_and_the_final(run, make_store) -> None:
    """An id the stream never gave (a client's bug, another stream's id): every
    store answers the same, the whole reply again, never "nothing more" (204)."""

    async def main():
        store = make_store()
        text = await filled(store, 3)
        final_id = await store.finish("s1", {"status": "complete", "content": text}, ttl=60)
        past = await store.read_after("s1", final_id + 5, 0)
        assert [e.kind for e in past.events] == [EventKind.SNAPSHOT, EventKind.FINAL] and past.done
        assert past.events[0].data["content"] == text and past.events[-1].id == final_id
        at = await store.read_after("s1", final_id, 0)  # the final's own id: nothing more, 204
        assert at.events == [] and at.done

    run(main())


def test_one_open_stream_per_conversation(run, make_store) -> None:
    async def main():
        store = make_store()
        await store.open(info("s1", "c1"))
        with pytest.raises(GenerationActive) as caught:
            await store.open(info("s2", "c1"))
        assert caught.value.stream_id == "s1"
        await store.open(info("s3", "c2"))
        assert (await store.active("c1")).stream_id == "s1"
        await store.finish("s1", {}, ttl=10)
        await store.open(info("s4", "c1"))

    run(main())


def test_unknown_stream_and_timeout(run, make_store) -> None:
    async def main():
        store = make_store()
        with pytest.raises(NotFound):
            await store.read_after("nope", None, 0)
        with pytest.raises(NotFound):
            await store.append("nope", text="x")
        await store.open(info())
        batch = await store.read_after("s1", 0, 0.05)
        assert batch.events == [] and not batch.done

    run(main())


def test_many_waiters_all_woken_and_expiry_wakes_them(run, make_store) -> None:
    async def main():
        store = make_store()
        await store.open(info())
        readers = [asyncio.create_task(store.read_after("s1", 0, 10)) for _ in range(50)]
        await asyncio.sleep(0.01)
        await store.append("s1", text="x")
        for batch in await asyncio.gather(*readers):
            assert [e.id for e in batch.events] == [1]
        waiting = asyncio.create_task(store.read_after("s1", 1, 10))
        await asyncio.sleep(0.01)
        await store.expire("s1")
        with pytest.raises(NotFound):
            await waiting

    run(main())


def test_waiters_time_out_each_on_their_own_and_a_cancelled_one_wakes_none(run, make_store) -> None:
    """Waiters of one log with different timeouts (the memory store keeps one timer per
    log, not one per wait): the shortest ends first, none early, and a reader that
    left changes nothing for the others."""

    async def main():
        store = make_store()
        await store.open(info())
        loop = asyncio.get_running_loop()
        start = loop.time()
        long = asyncio.create_task(store.read_after("s1", 0, 0.8))
        gone = asyncio.create_task(store.read_after("s1", 0, 30))
        await asyncio.sleep(0.01)
        short = asyncio.create_task(store.read_after("s1", 0, 0.1))  # sooner than the others
        done, _ = await asyncio.wait({long, short}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {short} and (await short).events == []
        if store.backend == "memory":  # its own timers: never before the timeout
            assert loop.time() - start >= 0.1
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        assert (await long).events == []  # not woken by the one that left: it timed out
        if store.backend == "memory":
            assert loop.time() - start >= 0.8
        again = asyncio.create_task(store.read_after("s1", 0, 30))
        await asyncio.sleep(0.01)
        await store.append("s1", text="x")
        assert [e.id for e in (await again).events] == [1]

    run(main())


def test_reasoning_and_text_interleave(run, make_store) -> None:
    async def main():
        store = make_store()
        await store.open(info())
        await store.append("s1", reasoning="think ")
        await store.append("s1", text="Hi")
        await store.append("s1", reasoning="more")
        batch = await store.read_after("s1", 0, 0)
        assert [e.data for e in batch.events] == [
            {"reasoning": "think "},
            {"text": "Hi"},
            {"reasoning": "more"},
        ]
        snap = (await store.read_after("s1", None, 0)).events[0]
        assert snap.data["content"] == "Hi" and snap.data["reasoning"] == "think more"

    run(main())


def test_redis_leases_start_at_open_and_a_failed_adoption_is_retried(redis_prefix) -> None:
    """A stream whose owner dies before its first renew is still adopted; a claim
    that is never concluded lapses again; a conversation key left behind by a
    stream that expired does not hold the conversation forever."""
    from jupyter_resumechat.streams.redis import RedisStreamStore
    from tests.support.services import REDIS_URL

    async def main():
        store = owned(RedisStreamStore(REDIS_URL, prefix=redis_prefix, lease=0.05))
        try:
            await store.open(info("s1", "c1"))  # and its owner dies: no renew ever
            await until_claimed(store, "s1", token=2)
            await until_claimed(store, "s1", token=3)  # the first claimer never concluded
            await store.finish("s1", {"status": "interrupted"}, ttl=10, token=3)
            assert await store.claim_orphans() == [] and await store.active("c1") is None
            await store.open(info("s2", "c2"))
            await store.redis.delete(*store._keys("s2"))  # expired without a release
            await store.open(info("s3", "c2"))  # takes the conversation over
            assert (await store.active("c2")).stream_id == "s3"
        finally:
            await store.close()

    async def until_claimed(store, sid: str, token: int) -> None:
        for _ in range(200):
            claimed = await store.claim_orphans()
            if claimed:
                assert [(i.stream_id, i.token) for i in claimed] == [(sid, token)]
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{sid} was never claimed")

    asyncio.run(main())
