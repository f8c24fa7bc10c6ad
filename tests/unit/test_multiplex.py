"""A page's one connection (jobs/multiplex.py): when the reader leaves, every
stream it read is released, even when a driver swallows the cancel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from jupyter_resumechat.jobs import Subscription
from jupyter_resumechat.jobs.fanout import FanOut
from jupyter_resumechat.jobs.multiplex import multiplex
from jupyter_resumechat.models import utcnow
from jupyter_resumechat.streams import MemoryStreamStore, ReadResult, StreamInfo


class SwallowingStore(MemoryStreamStore):
    """A store whose waiting reads swallow the first cancel each gets, as a cancel
    landing inside a redis-py call can be, and go on waiting."""

    swallowed = 0

    async def read_after(self, stream_id: str, last_id: int | None, timeout: float) -> ReadResult:
        if timeout <= 0:
            return await super().read_after(stream_id, last_id, timeout)
        try:
            return await super().read_after(stream_id, last_id, timeout)
        except asyncio.CancelledError:
            self.swallowed += 1
            task = asyncio.current_task()
            assert task is not None
            task.uncancel()
        return await super().read_after(stream_id, last_id, timeout)


def test_a_reader_that_leaves_releases_its_streams_though_a_read_swallowed_the_cancel() -> None:
    async def main() -> None:
        store = SwallowingStore()
        fanout = FanOut(store)
        sids = ["a", "b", "c"]
        for sid in sids:
            await store.open(StreamInfo(sid, f"c-{sid}", f"m-{sid}", utcnow()))
            await store.append(sid, text="x")

        @contextlib.asynccontextmanager
        async def subscribe(sid: str) -> AsyncIterator[Subscription]:
            feed = fanout.join(sid)
            try:
                yield Subscription(feed)
            finally:
                fanout.leave(feed)

        async with multiplex(subscribe, dict.fromkeys(sids, 0), 30) as merged:
            assert len(await merged.next(5)) == len(sids)  # each stream's "x"
            while not all(fanout.readers(sid) == 1 for sid in sids):
                await asyncio.sleep(0)
            # every stream's task now waits (30 s) in the store for more
        # the block's end returned: the swallowed cancel did not keep a stream held
        assert store.swallowed == len(sids)
        assert [fanout.readers(sid) for sid in sids] == [0, 0, 0]
        await fanout.stop()
        await store.close()

    asyncio.run(asyncio.wait_for(main(), 10))
