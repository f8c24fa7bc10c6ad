"""Versioned Redis event logs: a server refuses what a newer format wrote, never misreads it."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_resumechat.errors import Unavailable
from jupyter_resumechat.models import utcnow
from jupyter_resumechat.streams import StreamInfo
from jupyter_resumechat.streams.logformat import LOG_FORMAT
from tests.support.services import REDIS_URL


def run_with_store(prefix, body):
    from jupyter_resumechat.streams.redis import RedisStreamStore

    async def main():
        store = RedisStreamStore(REDIS_URL, prefix=prefix)
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


def test_an_entry_of_an_unknown_kind_is_refused_not_misread(redis_prefix) -> None:
    async def body(store):
        await store.open(StreamInfo("s1", "c1", "m1", utcnow(), owner="u"))
        await store.append("s1", text="known")
        events, _, _, meta = store._keys("s1")
        # what a newer server might write: an event of a new kind, or a batch with a new piece kind
        await store.redis.xadd(events, {"v": '{"vote": 1}'}, id="2-0")
        await store.redis.hset(meta, "seq", 2)
        with pytest.raises(Unavailable, match=r"fields or kinds: v\)"):
            await store.read_after("s1", 1, 0)
        await store.redis.xadd(events, {"p": '["x"]', "k": "z"}, id="3-0")
        await store.redis.hset(meta, "seq", 3)
        with pytest.raises(Unavailable, match=r"fields or kinds: z\)"):
            await store.read_after("s1", 2, 0)
        snapshot = (await store.read_after("s1", None, 0)).events[0]  # the snapshot still reads
        assert snapshot.data["content"] == "known"

    run_with_store(redis_prefix, body)


def test_logs_a_newer_format_may_not_share_are_refused_naming_both(redis_prefix) -> None:
    async def body(store):
        await store.open(StreamInfo("s1", "c1", "m1", utcnow(), owner="u"))  # writes our format
        key = f"{redis_prefix}format"
        assert await store.redis.hmget(key, ["version", "readable_by"]) == [b"2", b"2"]
        await store.redis.hset(key, mapping={"version": LOG_FORMAT + 1, "readable_by": LOG_FORMAT + 1})
        store._format._checked_at = None  # the next check, without waiting CHECK_EVERY
        with pytest.raises(Unavailable) as refused:
            await store.open(StreamInfo("s2", "c2", "m2", utcnow(), owner="u"))
        assert f"format {LOG_FORMAT + 1}" in refused.value.detail
        assert f"reads format {LOG_FORMAT}: upgrade" in refused.value.detail
        with pytest.raises(Unavailable):
            await store.read_after("s1", None, 0)

    run_with_store(redis_prefix, body)
