"""Versioned schema: which versions share a database, online and concurrent migrations."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, text, update

from jupyter_resumechat.errors import Unavailable
from jupyter_resumechat.store import MessageStore
from jupyter_resumechat.store.engine import make_engine
from jupyter_resumechat.store.schema import SCHEMA_VERSION, instances, schema_version
from jupyter_resumechat.store.setup import prepare_schema

from .test_message_store import db_url, run  # noqa: F401  (the fixture, on both databases)


async def _mark(store: MessageStore, version: int, readable_by: int | None) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(update(schema_version).values(version=version, readable_by=readable_by))


def test_a_newer_schema_that_this_version_may_use_is_used(db_url) -> None:  # noqa: F811
    """Expand, then contract: a newer server's additive schema says older servers may
    still use it, and they do (a rolling upgrade) without touching it."""

    async def body(store: MessageStore):
        await _mark(store, SCHEMA_VERSION + 1, SCHEMA_VERSION)
        again = MessageStore(store.url)
        await again.start()
        try:
            made, _ = await again.create_conversation("", "during the rollout")
            assert (await again.get_conversation(None, made.id)).title == "during the rollout"
            again.versions.refuse()  # nothing to refuse
        finally:
            await again.close()

    run(db_url, body)


def test_a_newer_schema_that_this_version_may_not_use_is_refused_naming_both(db_url) -> None:  # noqa: F811
    async def body(store: MessageStore):
        await _mark(store, SCHEMA_VERSION + 1, SCHEMA_VERSION + 1)
        again = MessageStore(store.url)
        try:
            with pytest.raises(Unavailable) as refused:
                await again.start()
        finally:
            await again.close()
        detail = refused.value.detail
        assert (
            f"schema version {SCHEMA_VERSION + 1}" in detail and f"schema version {SCHEMA_VERSION}:" in detail
        )
        assert "upgrade jupyter-resumechat" in detail

    run(db_url, body)


def test_a_running_server_refuses_once_the_database_moved_past_it(db_url) -> None:  # noqa: F811
    async def body(store: MessageStore):
        store.versions.refuse()
        await _mark(store, SCHEMA_VERSION + 2, SCHEMA_VERSION + 1)
        with pytest.raises(Unavailable, match=f"schema version {SCHEMA_VERSION + 2}"):
            await store.versions.check()
        with pytest.raises(Unavailable, match="upgrade jupyter-resumechat"):
            store.versions.refuse()  # what every endpoint answers from now on

    run(db_url, body)


def test_the_instances_table_tells_whether_an_older_server_remains(db_url) -> None:  # noqa: F811
    async def body(store: MessageStore):
        assert await store.versions.oldest_live() == SCHEMA_VERSION
        async with store.engine.begin() as conn:  # a row as a server of schema 3 writes it
            await conn.execute(
                insert(instances).values(id="old", host="elsewhere", pid=1, started_at=0, lease_until=1e12)
            )
        assert await store.versions.oldest_live() == 3
        async with store.engine.begin() as conn:  # its lease lapses
            await conn.execute(update(instances).where(instances.c.id == "old").values(lease_until=0))
        assert await store.versions.oldest_live() == SCHEMA_VERSION

    run(db_url, body)


async def _prepare_together(url: str, servers: int) -> list[tuple[int, int]]:
    engines = [make_engine(url) for _ in range(servers)]
    try:
        return list(await asyncio.gather(*(prepare_schema(engine) for engine in engines)))
    finally:
        for engine in engines:
            await engine.dispose()


def test_servers_starting_together_create_the_schema_once(postgres_url) -> None:
    results = asyncio.run(_prepare_together(postgres_url, 4))
    assert sorted(results) == [(0, SCHEMA_VERSION)] + [(SCHEMA_VERSION, SCHEMA_VERSION)] * 3


def test_servers_starting_together_upgrade_a_version_3_database_once(postgres_url) -> None:
    async def main():
        engine = make_engine(postgres_url)
        await prepare_schema(engine)
        async with engine.begin() as conn:  # what a server of schema 3 left
            await conn.execute(text("ALTER TABLE resumechat_instances DROP COLUMN version"))
            await conn.execute(text("ALTER TABLE resumechat_schema DROP COLUMN readable_by"))
            await conn.execute(text("UPDATE resumechat_schema SET version = 3"))
        await engine.dispose()
        results = await _prepare_together(postgres_url, 4)  # none fails on the other's ALTER
        assert {after for _, after in results} == {SCHEMA_VERSION} and (3, SCHEMA_VERSION) in results
        store = MessageStore(postgres_url)
        await store.start()
        assert await store.versions.oldest_live() == SCHEMA_VERSION  # the new column works
        await store.close()

    asyncio.run(main())


def test_an_upgrade_queued_behind_an_older_servers_transaction_gives_up_and_is_retried(postgres_url) -> None:
    """ALTER TABLE waits for every open transaction on the table, and every query
    queues behind it: an upgrade must not hold the older servers up for as long as
    one of their transactions lasts.  It gives up after ``LOCK_TIMEOUT``; the start
    fails (503, retried by the next request) and succeeds once the way is clear."""

    async def main():
        engine = make_engine(postgres_url)
        await prepare_schema(engine)
        async with engine.begin() as conn:  # a database of schema 3
            await conn.execute(text("ALTER TABLE resumechat_instances DROP COLUMN version"))
            await conn.execute(text("ALTER TABLE resumechat_schema DROP COLUMN readable_by"))
            await conn.execute(text("UPDATE resumechat_schema SET version = 3"))
        store = MessageStore(postgres_url)
        try:
            async with engine.connect() as older:  # an older server's transaction, still open
                await older.execute(text("SELECT count(*) FROM resumechat_instances"))
                with pytest.raises(Unavailable, match="lock timeout"):
                    await asyncio.wait_for(store.start(), 120)
                await older.rollback()
            await store.start()
            assert await store.versions.oldest_live() == SCHEMA_VERSION
        finally:
            await store.close()
            await engine.dispose()

    asyncio.run(main())
