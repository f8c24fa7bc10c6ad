"""The MessageStore contract, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jupyter_resumechat.errors import NotFound, Unavailable
from jupyter_resumechat.models import MessageStatus, Role
from jupyter_resumechat.store import Commit, MessageStore, NewCall, NewTurn
from jupyter_resumechat.store.messages import new_id
from jupyter_resumechat.store.schema import SCHEMA_VERSION
from jupyter_resumechat.tools import CallStatus


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    return request.getfixturevalue("postgres_url")


def run(url, body):
    async def main():
        store = MessageStore(url)
        await store.start()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


def turn(cid: str, content: str = "hi", client_id: str | None = None) -> NewTurn:
    return NewTurn(cid, content, "demo", client_id, new_id(), new_id(), new_id())


def test_conversation_crud_and_key(db_url) -> None:
    async def body(store: MessageStore):
        made, created = await store.create_conversation("", "first", key="nb.ipynb")
        again, created_again = await store.create_conversation("", "ignored", key="nb.ipynb")
        assert created and not created_again and again.id == made.id
        other, _ = await store.create_conversation("bob", "", key="nb.ipynb")
        assert other.id != made.id
        renamed = await store.rename_conversation(None, made.id, "new title")
        assert renamed.title == "new title" and renamed.updated_at >= made.updated_at
        listed = await store.list_conversations(None, limit=10)
        assert [c.id for c in listed] == [made.id, other.id]  # renamed last: newest
        assert [c.id for c in await store.list_conversations("bob")] == [other.id]
        with pytest.raises(NotFound):
            await store.get_conversation("bob", made.id)
        await store.delete_conversation(None, made.id)
        with pytest.raises(NotFound):
            await store.get_conversation(None, made.id)

    run(db_url, body)


def test_list_pages_back_in_time(db_url) -> None:
    async def body(store: MessageStore):
        for i in range(5):
            await store.create_conversation("", f"c{i}")
        page = await store.list_conversations(None, limit=2)
        assert [c.title for c in page] == ["c4", "c3"]
        older = await store.list_conversations(None, limit=10, before=page[-1].updated_at)
        assert [c.title for c in older] == ["c2", "c1", "c0"]
        future = await store.list_conversations(None, before=page[0].updated_at + timedelta(days=1))
        assert len(future) == 5

    run(db_url, body)


def test_turns_history_checkpoint_finish(db_url) -> None:
    async def body(store: MessageStore):
        conv, _ = await store.create_conversation("", "")
        first = turn(conv.id, "é😀 first", client_id="k1")
        user, reply = await store.add_turn(first)
        assert (user.role, reply.role, reply.status) == (Role.USER, Role.ASSISTANT, MessageStatus.STREAMING)
        await store.checkpoint([(reply.id, "part", "")])
        assert (await store.list_messages(None, conv.id))[1].content == "part"
        done = await store.finish_message(
            reply.replace(content="part and whole 中文", status=MessageStatus.COMPLETE)
        )
        await store.checkpoint([(reply.id, "stale", "")])  # must not overwrite a final message
        listed = await store.list_messages(None, conv.id)
        assert [m.content for m in listed] == ["é😀 first", "part and whole 中文"]
        assert listed[1].status is MessageStatus.COMPLETE and done.outcome is Commit.DONE
        assert done.message is not None and done.message.status is MessageStatus.COMPLETE
        found = await store.find_turn(conv.id, "k1")
        assert found is not None and found[0].id == user.id and found[2] == first.stream_id
        assert await store.find_turn(conv.id, "other") is None
        second = turn(conv.id, "again")
        _, reply2 = await store.add_turn(second)
        history = await store.history(conv.id, reply2.id)
        assert [m.content for m in history] == ["é😀 first", "part and whole 中文", "again"]
        assert (await store.message_for_stream(first.stream_id)).id == reply.id

    run(db_url, body)


def test_error_is_kept(db_url) -> None:
    async def body(store: MessageStore):
        conv, _ = await store.create_conversation("", "")
        _, reply = await store.add_turn(turn(conv.id))
        await store.finish_message(
            reply.replace(
                content="half", status=MessageStatus.ERROR, error={"type": "timeout", "detail": "slow"}
            )
        )
        got = (await store.list_messages(None, conv.id))[1]
        assert got.error == {"type": "timeout", "detail": "slow"} and got.content == "half"

    run(db_url, body)


async def wait_for(condition, timeout: float = 30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (found := await condition()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("status", [MessageStatus.ERROR, MessageStatus.ABORTED])
def test_a_reply_never_ends_with_a_call_still_open(db_url, status: MessageStatus) -> None:
    """Its job could not end them (the database was down then): the final commit does, in
    the same transaction, and the committed final shows them ended."""

    async def body(store: MessageStore):
        conv, _ = await store.create_conversation("", "")
        _, reply = await store.add_turn(turn(conv.id))
        running = NewCall(new_id(), "p", "t", {}, "{}", "server", "write", CallStatus.RUNNING)
        asking = NewCall(new_id(), "p", "t", {}, "{}", "server", "write", CallStatus.AWAITING_APPROVAL)
        await store.add_calls(reply.id, conv.id, 1, 0, [running, asking])
        done = await store.finish_message(reply.replace(content="so far", status=status))
        assert done.outcome is Commit.DONE and done.message is not None
        shown = {
            p["call"]["id"]: p["call"]["status"]
            for p in done.message.to_json()["parts"]
            if p["type"] == "tool"
        }
        stored = {row.call.id: row.call.status for row in await store.calls_of(reply.id)}
        # a failure cannot know what a running call did; a stop cancels it
        assert stored == {
            running.id: "unknown" if status is MessageStatus.ERROR else "cancelled",
            asking.id: "cancelled",
        }
        assert shown == stored
        listed = (await store.list_messages(None, conv.id))[1]
        assert listed.to_json()["parts"] == done.message.to_json()["parts"]

    run(db_url, body)


def test_only_replies_whose_owner_lapsed_are_recovered(db_url) -> None:
    async def main():
        alive, dying = MessageStore(db_url), MessageStore(db_url)
        await alive.start(lease=60)
        await dying.start(lease=0.2)  # stops heartbeating: as if its server were frozen or gone
        conv, _ = await alive.create_conversation("", "")
        _, _live_reply = await alive.add_turn(turn(conv.id))
        other, _ = await alive.create_conversation("", "")
        _, dead_reply = await dying.add_turn(turn(other.id))
        await dying.checkpoint([(dead_reply.id, "checkpointed text", "")])
        calls = {  # what its run left open, and one it had finished
            status: NewCall(new_id(), "p", "t", {}, "{}", runs_on, "write", status)
            for status, runs_on in [
                (CallStatus.RUNNING, "server"),
                (CallStatus.AWAITING_APPROVAL, "server"),
                (CallStatus.DONE, "server"),
            ]
        }
        page_running = NewCall(
            new_id(), "p", "notebook_run_cell", {}, "{}", "page", "execute", CallStatus.RUNNING
        )
        await dying.add_calls(dead_reply.id, other.id, 1, 0, [*calls.values(), page_running])
        observer = MessageStore(db_url)
        await observer.start(lease=60)
        lapsed = await wait_for(observer.instances.lapsed_replies)
        assert [r.message_id for r in lapsed] == [dead_reply.id]  # never the live one
        # a server call caught running: a failure, not a run that only waits
        assert await observer.park_lapsed(dead_reply.id, dying.instance_id) is None
        assert await observer.recover_lapsed(lapsed[0]) and not await observer.recover_lapsed(lapsed[0])
        got = (await observer.list_messages(None, other.id))[1]
        assert got.status is MessageStatus.INTERRUPTED and got.content == "checkpointed text"
        assert (await observer.list_messages(None, conv.id))[1].status is MessageStatus.STREAMING
        # its calls end as a failure ends them: the server call caught running may have acted
        ended = {row.call.id: row.call for row in await observer.calls_of(dead_reply.id)}
        assert ended[calls[CallStatus.RUNNING].id].status == "unknown"
        assert ended[calls[CallStatus.RUNNING].id].error == {
            "type": "unknown",
            "detail": "the server running this call stopped before it answered",
        }
        assert ended[calls[CallStatus.AWAITING_APPROVAL].id].status == "cancelled"
        assert ended[calls[CallStatus.DONE].id].status == "done"
        assert ended[page_running.id].status == "cancelled"  # its page interrupts the cell
        # the owner comes back: the recoverer's ending is final, its commit writes nothing
        assert await dying.instances.taken([dead_reply.id]) == {dead_reply.id}
        back = await dying.finish_message(
            dead_reply.replace(content="checkpointed text and more", status=MessageStatus.COMPLETE)
        )
        assert back.outcome is Commit.TAKEN and back.message is not None
        assert (back.message.status, back.message.content) == (MessageStatus.INTERRUPTED, "checkpointed text")
        # a final spooled at its stop may still land: nobody moved past the reply
        spooled = dead_reply.replace(content="checkpointed text and more", status=MessageStatus.INTERRUPTED)
        replayed = await observer.finish_message(spooled, owner=dying.instance_id)
        assert replayed.outcome is Commit.DONE
        for store in (alive, dying, observer):
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("status", "runs_on", "waits"),
    [(CallStatus.AWAITING_APPROVAL, "server", "approval"), (CallStatus.APPROVED, "page", "page")],
)
def test_a_lapsed_reply_whose_run_only_waited_is_parked_with_its_text(
    db_url, status: CallStatus, runs_on: str, waits: str
) -> None:
    """Its server died between the calls' commit and the park's: the calls' commit
    kept the text before them, and the server that finds it parks it, fenced."""

    async def main():
        dying, finder, late = MessageStore(db_url), MessageStore(db_url), MessageStore(db_url)
        await dying.start(lease=0.2)
        await finder.start(lease=60)
        await late.start(lease=60)
        conv, _ = await dying.create_conversation("", "")
        _, reply = await dying.add_turn(turn(conv.id))
        call = NewCall(new_id(), "p", "t", {}, "{}", runs_on, "write", status)
        text = ("the text before the call", "a thought")
        assert await dying.add_calls(reply.id, conv.id, 1, len(text[0]), [call], text)
        lapsed = await wait_for(finder.instances.lapsed_replies)
        assert await late.park_lapsed(reply.id, "someone-else") is None  # fenced by the owner seen
        assert await finder.park_lapsed(reply.id, lapsed[0].owner_instance) == waits
        assert await late.park_lapsed(reply.id, dying.instance_id) is None  # parked once
        (parked,) = await late.parked_runs(reply.id)
        assert parked.waiting == waits and parked.parked_by_live  # its finder holds it now
        got = (await late.list_messages(None, conv.id))[1]
        assert (got.status, got.content, got.reasoning) == (MessageStatus.STREAMING, *text)
        assert await late.instances.lapsed_replies() == []  # a parked run has no lease to lapse
        assert await dying.instances.taken([reply.id]) == {reply.id}  # its old job would stop
        assert [row.call.status for row in await late.calls_of(reply.id)] == [status.value]
        for store in (dying, finder, late):
            await store.close()

    asyncio.run(main())


def test_an_adopted_reply_fences_its_old_owner(db_url) -> None:
    async def main():
        owner, adopter = MessageStore(db_url), MessageStore(db_url)
        await owner.start()
        await adopter.start()
        conv, _ = await owner.create_conversation("", "")
        _, reply = await owner.add_turn(turn(conv.id))
        adopted = reply.replace(content="what the stream held", status=MessageStatus.INTERRUPTED)
        assert (await adopter.finish_message(adopted, adopt=True)).outcome is Commit.DONE
        assert await owner.checkpoint([(reply.id, "late", "")]) == set()  # a no-op, not an error
        late = await owner.finish_message(reply.replace(content="late", status=MessageStatus.ERROR))
        assert late.outcome is Commit.TAKEN and late.message.content == "what the stream held"
        again = await adopter.finish_message(adopted, adopt=True)  # a retried commit that landed
        assert again.outcome is Commit.DONE and again.message.status is MessageStatus.INTERRUPTED
        got = (await owner.list_messages(None, conv.id))[1]
        assert (got.status, got.content) == (MessageStatus.INTERRUPTED, "what the stream held")
        await owner.close()
        await adopter.close()

    asyncio.run(main())


def test_one_streaming_reply_per_conversation_across_servers(db_url) -> None:
    from jupyter_resumechat.errors import GenerationActive

    async def main():
        a, b = MessageStore(db_url), MessageStore(db_url)
        await a.start()
        await b.start()
        conv, _ = await a.create_conversation("", "")
        first = turn(conv.id)
        await a.add_turn(first)
        with pytest.raises(GenerationActive) as raised:
            await b.add_turn(turn(conv.id))
        assert raised.value.stream_id == first.stream_id
        await a.close()
        await b.close()

    asyncio.run(main())


def test_a_newer_schema_is_refused(db_url) -> None:
    async def body(store: MessageStore):
        from sqlalchemy import update

        from jupyter_resumechat.store.schema import schema_version

        async with store.engine.begin() as conn:
            await conn.execute(update(schema_version).values(version=99, readable_by=None))
        with pytest.raises(Unavailable, match="schema version 99"):
            await store.start()

    run(db_url, body)


def test_migrate_creates_then_finds_the_schema(db_url) -> None:
    from jupyter_resumechat.store.migrate import main

    assert main([db_url]) == 0
    assert main([db_url]) == 0
    run(db_url, lambda store: asyncio.sleep(0))  # the server accepts what migrate made


def test_a_version_1_database_is_upgraded_in_place(db_url) -> None:
    """The schema the first release wrote: no owners, no instances, no context, no window."""
    from sqlalchemy import text

    async def main():
        old = MessageStore(db_url)
        await old.start()
        conv, _ = await old.create_conversation("", "kept")
        _, reply = await old.add_turn(turn(conv.id, "hello"))
        await old.checkpoint([(reply.id, "partial", "")])
        async with old.engine.begin() as conn:
            await conn.execute(text("DROP INDEX ux_resumechat_messages_one_streaming"))
            for column in ("owner_instance", "context", "usage", "context_window"):
                await conn.execute(text(f"ALTER TABLE resumechat_messages DROP COLUMN {column}"))
            await conn.execute(text("DROP TABLE resumechat_instances"))
            await conn.execute(text("UPDATE resumechat_schema SET version = 1"))
        await old.close()
        new = MessageStore(db_url)
        await new.start()
        got = await new.list_messages(None, conv.id)
        assert [(m.content, m.status, m.context) for m in got] == [
            ("hello", MessageStatus.COMPLETE, []),
            ("partial", MessageStatus.INTERRUPTED, []),
        ]
        async with new.engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT max(version) FROM resumechat_schema"))
            ).scalar() == SCHEMA_VERSION
        await new.add_turn(turn(conv.id, "again"))  # the new columns and index work
        await new.close()

    asyncio.run(main())


def test_a_migration_cut_short_is_run_again(db_url) -> None:
    """SQLite commits each ALTER TABLE at once: a start that died mid-migration left
    the columns but version 1; the next start must finish it, not fail for good."""
    from sqlalchemy import text

    async def main():
        store = MessageStore(db_url)
        await store.start()
        async with store.engine.begin() as conn:
            await conn.execute(text("UPDATE resumechat_schema SET version = 1"))
        await store.close()
        again = MessageStore(db_url)
        await again.start()
        async with again.engine.connect() as conn:
            assert (
                await conn.execute(text("SELECT max(version) FROM resumechat_schema"))
            ).scalar() == SCHEMA_VERSION
        await again.close()

    asyncio.run(main())
