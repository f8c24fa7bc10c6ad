"""Fan-out (jobs/fanout.py): a thousand readers of one live reply each get the
whole text exactly once, from one shared read and one encoding per batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_resumechat.eventstream import Reply, decode_block
from jupyter_resumechat.jobs.fanout import FanOut
from jupyter_resumechat.models import utcnow
from jupyter_resumechat.streams import MemoryStreamStore, StreamInfo
from tests.support.stores import owned

READERS = 1000


@pytest.fixture(params=["memory", "redis-coalesced"])
def make_store(request) -> Any:
    if request.param == "memory":
        return MemoryStreamStore
    from jupyter_resumechat.streams.redis import RedisStreamStore
    from tests.support.services import REDIS_URL

    prefix = request.getfixturevalue("redis_prefix")
    return lambda: owned(RedisStreamStore(REDIS_URL, prefix=prefix, coalesce=0.01))


async def reader(fanout: FanOut, sid: str, bodies: dict[int, bytes]) -> tuple[list[int], str]:
    """Reads as the SSE handler does, and decodes the very bytes it would write."""
    feed = fanout.join(sid)
    try:
        reply, ids, last = Reply(), [], 0
        while True:
            chunk = await feed.read(last, 5)
            if chunk.body:
                bodies[id(chunk.body)] = chunk.body  # kept alive: ids stay distinct
            for block in chunk.body.split(b"\n\n"):
                event = decode_block(block) if block else None
                if event is not None:
                    ids.append(event.id)
                    reply.apply(event)
            if chunk.final:
                ids.append(chunk.events[-1].id)
            last = chunk.events[-1].id if chunk.events else last
            if chunk.done:
                return ids, reply.content
    finally:
        fanout.leave(feed)


def test_a_thousand_readers_get_the_same_full_text(make_store) -> None:
    async def main() -> None:
        store = make_store()
        fanout = FanOut(store)
        await store.open(StreamInfo("s", "c", "m", utcnow()))
        bodies: dict[int, bytes] = {}
        readers = [asyncio.create_task(reader(fanout, "s", bodies)) for _ in range(READERS)]
        await asyncio.sleep(0)
        expected = ""
        for i in range(300):
            piece = f"{i} é😀 "
            await store.append("s", text=piece)
            expected += piece
            if i % 7 == 0:
                await asyncio.sleep(0.001)  # the model's pace: readers catch up between pieces
        await store.finish("s", {"status": "complete"}, 60)
        results = await asyncio.gather(*readers)
        for ids, text in results:
            assert ids == list(range(1, 302))
            assert text == expected
        assert fanout.readers("s") == 0
        assert len(bodies) <= 301, f"{len(bodies)} encodings for 300 pieces: readers did not share them"
        await fanout.stop()
        await store.close()

    asyncio.run(main())


def test_readers_of_a_finished_stream_share_one_encoding_of_it(make_store) -> None:
    """Thirty readers asking for a finished reply (a snapshot, or every delta) at
    once or one after another hold one copy of its bytes between them, not thirty."""

    async def main() -> None:
        store = make_store()
        fanout = FanOut(store)
        await store.open(StreamInfo("s", "c", "m", utcnow()))
        for i in range(50):
            await store.append("s", text=f"piece {i} " * 100)
        await store.finish("s", {"status": "complete"}, 60)
        feeds = [fanout.join("s") for _ in range(30)]
        for last_id in (None, 0):
            together = await asyncio.gather(*(feed.read(last_id, 0) for feed in feeds[:15]))
            later = [await feed.read(last_id, 0) for feed in feeds[15:]]
            chunks = together + later
            assert chunks[0].done and chunks[0].final and len(chunks[0].body) > 40_000
            assert {id(c) for c in chunks} == {id(chunks[0])}, f"{len({id(c) for c in chunks})} encodings"
        for feed in feeds:
            fanout.leave(feed)
        again = fanout.join("s")  # no reader was left: nothing kept, read afresh
        assert (await again.read(0, 0)).body == chunks[0].body and again is not feeds[0]
        fanout.leave(again)
        await fanout.stop()
        await store.close()

    asyncio.run(main())


def test_a_lone_reader_reads_directly_and_one_joining_it_misses_nothing(make_store) -> None:
    """The only reader of a stream reads the store itself (no shared task); a second
    reader that joins while it waits goes through the shared read, and leaves the
    first alone again: both get every piece once, in order."""

    async def main() -> None:
        store = make_store()
        fanout = FanOut(store)
        await store.open(StreamInfo("s", "c", "m", utcnow()))
        await store.append("s", text="0 ")
        bodies: dict[int, bytes] = {}
        first = asyncio.create_task(reader(fanout, "s", bodies))
        await asyncio.sleep(0.05)
        assert fanout.readers("s") == 1 and not fanout._tasks  # waiting, on its own read
        second = asyncio.create_task(reader(fanout, "s", bodies))
        expected = "0 "
        for i in range(1, 60):
            piece = f"{i} é "
            expected += piece
            await store.append("s", text=piece)
            await asyncio.sleep(0.001 if i % 3 else 0)
        await store.finish("s", {"status": "complete", "content": expected}, 60)
        for ids, text in await asyncio.gather(first, second):
            assert ids == list(range(1, 62)) and text == expected
        assert fanout.readers("s") == 0
        await fanout.stop()
        await store.close()

    asyncio.run(main())
