"""JobManager without a server: real memory streams, a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from jupyter_resumechat.errors import GenerationActive, TooManyGenerations
from jupyter_resumechat.jobs import JobManager, JobSettings
from jupyter_resumechat.models import MessageStatus
from jupyter_resumechat.providers import ChatTurn, Delta
from jupyter_resumechat.providers.demo import DemoProvider
from jupyter_resumechat.streams import MemoryStreamStore
from tests.support.stores import CountingStore


class Stuck(DemoProvider):
    async def stream(self, model: str, turns: list[ChatTurn]) -> AsyncIterator[Delta]:
        yield Delta(text="start ")
        await asyncio.sleep(3600)


def manager(tmp_path, provider=None, **settings) -> JobManager:
    store = CountingStore(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    return JobManager(
        MemoryStreamStore(),
        store,
        provider or DemoProvider(0.001),
        JobSettings(**{"checkpoint_interval": 0.05, **settings}),
    )


async def drain(m: JobManager, sid: str) -> dict:
    last = None
    while True:
        batch = await m.streams.read_after(sid, last, 5)
        if batch.events:
            last = batch.events[-1].id
        if batch.done:
            return batch.events[-1].data["message"]


def test_stall_ends_in_a_persisted_timeout_error(tmp_path) -> None:
    async def main():
        m = manager(tmp_path, Stuck(), provider_timeout=0.2)
        await m.start()
        conv, _ = await m.create_conversation("u", "", None)
        sent = await m.send("u", conv.id, "hi")
        final = await drain(m, sent.stream_id)
        assert final["status"] == "error" and final["error"]["type"] == "timeout"
        assert final["content"] == "start "
        stored = (await m.list_messages("u", conv.id))[1]
        assert stored.status is MessageStatus.ERROR and stored.content == "start "
        await m.stop()

    asyncio.run(main())


def test_checkpoints_are_one_transaction_per_interval(tmp_path) -> None:
    async def main():
        m = manager(tmp_path, checkpoint_interval=0.1)
        await m.start()
        sids = []
        for _ in range(10):
            conv, _ = await m.create_conversation("u", "", None)
            sids.append((await m.send("u", conv.id, "/pace 0.001 /repeat 400 x")).stream_id)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.gather(*[drain(m, sid) for sid in sids])
        elapsed = loop.time() - began
        # ten streams share one transaction per tick: never more ticks than intervals,
        # and a supervisor that never checkpoints fails too
        assert 1 <= m.messages.transactions <= elapsed / 0.1 + 1
        replies = {(await m.messages.message_for_stream(sid)).id for sid in sids}
        assert m.messages.saved == replies  # every reply was checkpointed while it streamed
        await m.stop()

    asyncio.run(main())


def test_per_user_cap_and_one_per_conversation(tmp_path) -> None:
    async def main():
        m = manager(tmp_path, max_active_per_user=2)
        await m.start()
        convs = [(await m.create_conversation("u", "", None))[0] for _ in range(3)]
        first = await m.send("u", convs[0].id, "/pace 0.05 /repeat 100 x")
        with pytest.raises(GenerationActive):
            await m.send("u", convs[0].id, "again")
        await m.send("u", convs[1].id, "/pace 0.05 /repeat 100 x")
        with pytest.raises(TooManyGenerations):
            await m.send("u", convs[2].id, "third")
        await m.send("other", convs[2].id, "/pace 0.05 /repeat 100 x")  # someone else's budget
        aborted = await m.abort("u", first.stream_id)
        assert aborted.status is MessageStatus.ABORTED
        await m.send("u", convs[0].id, "now there is room")
        await m.stop()

    asyncio.run(main())


def test_stop_interrupts_every_job_and_keeps_text(tmp_path) -> None:
    async def main():
        m = manager(tmp_path)
        await m.start()
        conv, _ = await m.create_conversation("u", "", None)
        sent = await m.send("u", conv.id, "/pace 0.01 /repeat 1000 x")
        await asyncio.sleep(0.1)
        await m.stop()
        m2 = manager(tmp_path)
        await m2.start()
        stored = (await m2.list_messages("u", conv.id))[1]
        assert stored.status is MessageStatus.INTERRUPTED and stored.content.startswith("xxx")
        assert sent.stream_id
        await m2.stop()

    asyncio.run(main())


def test_one_failing_job_does_not_harm_the_others(tmp_path) -> None:
    async def main():
        m = manager(tmp_path)
        await m.start()
        a, _ = await m.create_conversation("u", "", None)
        b, _ = await m.create_conversation("u", "", None)
        bad = await m.send("u", a.id, "/fail 3")
        good = await m.send("u", b.id, "/repeat 50 ok")
        bad_final, good_final = await asyncio.gather(drain(m, bad.stream_id), drain(m, good.stream_id))
        assert bad_final["status"] == "error" and bad_final["content"] == "word " * 3
        assert good_final["status"] == "complete" and good_final["content"] == "ok" * 50
        await m.stop()

    asyncio.run(main())
