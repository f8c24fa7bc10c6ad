"""The stream stores' side of agent runs: tool events between deltas, a snapshot's
parts, and a parked stream that nobody takes for an orphan until it is reclaimed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_resumechat.models import EventKind, utcnow
from jupyter_resumechat.streams import StreamInfo
from jupyter_resumechat.streams.memory import MemoryStreamStore
from tests.support.services import REDIS_URL


def call(status: str) -> dict[str, Any]:
    return {"id": "t1", "name": "file_read", "arguments": {}, "runs_on": "server", "status": status}


async def tool_steps(store: Any) -> None:
    await store.open(StreamInfo("s1", "c1", "m1", utcnow(), owner="u"))
    await store.append("s1", text="Looking. ")
    assert await store.append_tool("s1", call("approved"), 9) == 2
    await store.append_arguments("s1", "t2", '{"pa')
    await store.append("s1", text="Done.")
    assert await store.append_tool("s1", call("done"), 14) == 5
    events = (await store.read_after("s1", 0, 0)).events
    assert [(e.id, e.kind) for e in events] == [
        (1, EventKind.DELTA),
        (2, EventKind.TOOL),
        (3, EventKind.DELTA),
        (4, EventKind.DELTA),
        (5, EventKind.TOOL),
    ]
    assert events[2].data == {"tool_arguments": {"call_id": "t2", "text": '{"pa'}}
    snapshot = (await store.read_after("s1", None, 0)).events[0]
    assert snapshot.id == 5 and snapshot.data["content"] == "Looking. Done."
    # the call stays where it first appeared, with its latest state
    assert snapshot.data["parts"] == [
        {"type": "text", "text": "Looking. "},
        {"type": "tool", "call": call("done")},
        {"type": "text", "text": "Done."},
    ]


def test_memory_tool_steps() -> None:
    asyncio.run(tool_steps(MemoryStreamStore()))


@pytest.fixture
def redis_store(redis_prefix: str) -> Any:
    from jupyter_resumechat.streams.redis import RedisStreamStore

    def make(**options: Any) -> Any:
        return RedisStreamStore(REDIS_URL, prefix=redis_prefix, lease=0.2, **options)

    return make


@pytest.mark.parametrize("coalesce", [0.0, 0.01])
def test_redis_tool_steps(redis_store: Any, coalesce: float) -> None:
    async def main() -> None:
        store = redis_store(coalesce=coalesce)
        loops = [asyncio.ensure_future(loop.run()) for loop in store.loops()]
        try:
            await tool_steps(store)
        finally:
            for loop in store.loops():
                loop.stop()
            await asyncio.wait(loops, timeout=5)
            await store.close()

    asyncio.run(main())


def test_a_parked_redis_stream_is_no_orphan_even_if_its_lease_is_renewed_after(redis_store: Any) -> None:
    """A supervisor tick that renews the job's lease just after it parked must not put
    the lease back: once it lapsed, another server would adopt the waiting run as dead."""

    async def main() -> None:
        store, other = redis_store(), redis_store()
        try:
            await store.open(StreamInfo("s1", "c1", "m1", utcnow(), owner="u"))
            info = await store.info("s1")
            await store.park("s1", info.token)
            await store.renew({"s1": info.token}, -1.0)  # the late renewal (already lapsed)
            assert await other.claim_orphans() == []
            reclaimed = await other.reclaim("s1")
            assert reclaimed is not None and reclaimed.token == info.token + 1
            with pytest.raises(Exception, match="adopted"):
                await store.append_tool("s1", call("done"), 0, token=info.token)  # fenced out
            assert await other.append_tool("s1", call("done"), 0, token=reclaimed.token) == 1
        finally:
            await store.close()
            await other.close()

    asyncio.run(main())
