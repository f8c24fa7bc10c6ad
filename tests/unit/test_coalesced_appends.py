"""Coalesced appends on Redis (streams/batcher.py): ids 1, 2, 3… exactly once,
whatever the batching, a lost answer or a failed round trip (docs/protocol.md#exactly-once)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from jupyter_resumechat.errors import Unavailable
from jupyter_resumechat.models import EventKind, utcnow
from jupyter_resumechat.streams import StreamInfo
from jupyter_resumechat.streams.batcher import Batch
from jupyter_resumechat.streams.redis import RedisStreamStore
from tests.support.services import REDIS_URL
from tests.support.stores import owned


def info(sid: str = "s1") -> StreamInfo:
    return StreamInfo(sid, f"c-{sid}", f"m-{sid}", utcnow(), owner="u")


async def read_all(store: RedisStreamStore, sid: str, last: int | None = 0) -> tuple[list[int], str]:
    """Every event to the final, as a reader resuming at ``last`` gets it."""
    ids, text = [], ""
    while True:
        batch = await store.read_after(sid, last, 5)
        for event in batch.events:
            ids.append(event.id)
            text = (
                event.data["content"]
                if event.kind is EventKind.SNAPSHOT
                else text + event.data.get("text", "")
            )
        last = batch.events[-1].id if batch.events else last
        if batch.done:
            return ids, text


@pytest.fixture
def store(redis_prefix: str) -> Any:
    def make(**kwargs: Any) -> RedisStreamStore:
        return owned(
            RedisStreamStore(REDIS_URL, prefix=redis_prefix, coalesce=kwargs.pop("coalesce", 0.01), **kwargs)
        )

    return make


def test_pieces_go_in_few_round_trips_and_read_back_exactly_once(store) -> None:
    async def main() -> None:
        s = store()
        sent: list[int] = []
        send = s._send_batches

        async def counting(work: list[tuple[str, Batch]]) -> Any:
            sent.append(sum(len(b.texts) for _, b in work))
            return await send(work)

        s._batcher.send = counting
        await s.open(info())
        readers = [asyncio.create_task(read_all(s, "s1", start)) for start in (0, 0, None)]
        for i in range(3000):
            assert await s.append("s1", text=str(i % 10)) == i + 1
            if i % 100 == 0:
                await asyncio.sleep(0)
        assert await s.finish("s1", {"status": "complete"}, 60) == 3001  # sends what is queued first
        expected = "".join(str(i % 10) for i in range(3000))
        for ids, text in await asyncio.gather(*readers):
            assert text == expected
            assert ids[1:] == list(range(ids[0] + 1, 3002))  # a snapshot first, or delta 1
        assert sum(sent) == 3000 and len(sent) < 300, sent  # batched, not one call a piece
        ids, text = await read_all(s, "s1", 1234)  # a resume anywhere in the log
        assert ids == list(range(1235, 3002)) and text == expected[1234:]
        await s.close()

    asyncio.run(main())


def test_a_batch_whose_answer_was_lost_is_not_written_twice(store) -> None:
    """The round trip lands but its answer is lost (a dropped connection): the
    writer's next append says so, the batch is sent again, and Redis skips it."""

    async def main() -> None:
        s = store()
        real = s._pipeline
        lost = {"left": 1}

        async def answer_lost(work: list[tuple[str, Batch]]) -> list[Any]:
            result = await real(work)
            if lost["left"]:
                lost["left"] -= 1
                raise RedisConnectionError("connection dropped after the write")
            return result

        s._pipeline = answer_lost
        await s.open(info())
        for i in range(5):
            await s.append("s1", text=f"<{i}>")
        with pytest.raises(Unavailable):  # the failed send ends the writer's next append
            while True:
                await s.append("s1", text="!")
                await asyncio.sleep(0.005)
        await s.finish("s1", {"status": "error"}, 60)  # the queued batches land first, once
        ids, text = await read_all(s, "s1")
        assert text.startswith("<0><1><2><3><4>") and text.count("<0>") == 1
        assert ids == list(range(1, len(ids) + 1))
        await s.close()

    asyncio.run(main())


def test_a_round_trip_that_fails_keeps_the_pieces_queued_until_it_succeeds(store) -> None:
    async def main() -> None:
        s = store()
        real = s._pipeline
        failures = {"left": 3}

        async def flaky(work: list[tuple[str, Batch]]) -> list[Any]:
            if failures["left"]:
                failures["left"] -= 1
                raise RedisConnectionError("Redis is restarting")
            return await real(work)

        s._pipeline = flaky
        await s.open(info())
        accepted = ""
        for i in range(50):
            try:
                await s.append("s1", text=f"{i},")
                accepted += f"{i},"
            except Unavailable:
                break  # as the job does: the reply ends with what was accepted
            await asyncio.sleep(0.002)
        final_id = None
        while final_id is None:  # the Concluder retries the final until Redis answers
            try:
                final_id = await s.finish("s1", {"status": "error"}, 60)
            except Unavailable:
                await asyncio.sleep(0.01)
        ids, text = await read_all(s, "s1")
        assert text == accepted and ids == list(range(1, final_id + 1))
        await s.close()

    asyncio.run(main())


def test_coalescing_off_is_one_call_per_piece(store) -> None:
    async def main() -> None:
        s = store(coalesce=0.0)
        assert s._batcher is None
        await s.open(info())
        for i in range(20):
            assert await s.append("s1", text="x", reasoning="" if i % 2 else "r") == i + 1
        await s.finish("s1", {"status": "complete"}, 60)
        ids, text = await read_all(s, "s1")
        assert ids == list(range(1, 22)) and text == "x" * 20
        await s.close()

    asyncio.run(main())
