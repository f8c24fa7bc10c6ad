"""Every long-lived task has one owner (STYLE §5): the JobManager's TaskGroup.

The Redis store offers its loops (the flusher of coalesced appends, the
shared XREAD, the abort channel) and starts none itself; the manager starts
them with its supervisor, keeps them, and stops and awaits them all."""

from __future__ import annotations

import asyncio

from jupyter_resumechat.jobs import JobManager, JobSettings
from jupyter_resumechat.jobs.tasks import TaskGroup
from jupyter_resumechat.models import EventKind, utcnow
from jupyter_resumechat.providers.demo import DemoProvider
from jupyter_resumechat.streams import StreamInfo
from jupyter_resumechat.streams.redis import RedisStreamStore
from tests.support.services import REDIS_URL
from tests.support.stores import CountingStore

LOOPS = ["resumechat-append-batches", "resumechat-xread", "resumechat-abort-channel"]


def test_a_redis_store_starts_no_task_of_its_own(redis_prefix) -> None:
    async def main() -> None:
        store = RedisStreamStore(REDIS_URL, prefix=redis_prefix, coalesce=0.01)
        before = asyncio.all_tasks()
        store.on_abort(lambda sid: None)
        await store.open(StreamInfo("s1", "c1", "m1", utcnow(), owner="u"))
        assert store.append_nowait("s1", text="queued") == 1  # a flusher would start here
        assert asyncio.all_tasks() == before
        assert [loop.name for loop in store.loops()] == LOOPS

        group = TaskGroup()  # as the manager does: then the queued piece goes out
        for loop in store.loops():
            group.start(loop)
        await store.finish("s1", {"status": "complete"}, 60)
        batch = await store.read_after("s1", 0, 1)
        assert [e.kind for e in batch.events] == [EventKind.DELTA, EventKind.FINAL]
        await group.stop(timeout=5)
        assert all(task.done() for task in group.tasks())
        await store.close()

    asyncio.run(main())


def test_the_manager_owns_every_long_lived_task_and_none_outlives_stop(tmp_path, redis_prefix) -> None:
    async def main() -> None:
        before = asyncio.all_tasks()
        manager = JobManager(
            RedisStreamStore(REDIS_URL, prefix=redis_prefix, coalesce=0.01),
            CountingStore(f"sqlite+aiosqlite:///{tmp_path / 'tasks.db'}"),
            DemoProvider(0.001),
            JobSettings(checkpoint_interval=0.05),
        )
        await manager.start()
        assert sorted(manager.tasks.names) == sorted(["resumechat-supervisor", *LOOPS])
        conversation, _ = await manager.create_conversation("u", "", None)
        sent = await manager.send("u", conversation.id, "/repeat 50 ab")
        job = manager.jobs.get(sent.stream_id)
        async with manager.subscribe("u", sent.stream_id) as subscription:
            last = None
            while not (batch := await subscription.read(last, 5)).done:
                last = batch.events[-1].id if batch.events else last
        if job is not None:  # its task ends just after the final
            await asyncio.wait_for(job.done.wait(), 10)
        # the package names its tasks; an inner wait_for task of a loop is not one of them
        ours = {t for t in asyncio.all_tasks() - before if t.get_name().startswith("resumechat-")}
        assert ours == set(manager.tasks.tasks()), [t.get_name() for t in ours]
        await manager.stop()
        assert manager.tasks.names == []
        left = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()}
        assert not left, [t.get_name() for t in left]

    asyncio.run(main())
