"""Bring a database to this package's schema: create it, or upgrade it in place.

Shared by the server's start and ``python -m jupyter_resumechat.store.migrate``.
Each version's statements run in one transaction and record the version
reached.  Online and from many servers at once: on PostgreSQL every schema
transaction first takes one advisory lock (two servers starting together
migrate one after the other, and the second finds the work done), and waits
at most ``LOCK_TIMEOUT`` for a table's lock, so an ALTER queued behind a long
transaction of an older server gives up (the start is retried) instead of
holding up every query queued behind it.  A database newer than this package
is used if its ``readable_by`` allows it, else refused (``versions.py``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import Unavailable
from .schema import MIGRATIONS, READABLE_BY, SCHEMA_VERSION, metadata, schema_version
from .versions import read_state

__all__ = ["LOCK_TIMEOUT", "prepare_schema", "schema_version_of"]

LOCK_TIMEOUT = "5s"  # PostgreSQL: the longest a migration waits for a table's lock
_ADVISORY_KEY = 0x52435343  # one advisory lock for every schema change of this package


async def prepare_schema(engine: AsyncEngine) -> tuple[int, int]:
    """Create missing tables, apply pending migrations; return (before, after)."""
    async with engine.begin() as conn:
        await _serialise(conn)
        found = await _version(conn)
        if found is not None and found > SCHEMA_VERSION:
            state = await read_state(conn)
            problem = state.problem() if state is not None else None
            if problem is not None:
                raise Unavailable(problem)
            return found, found  # a newer schema that this version may still use, untouched
        await conn.run_sync(metadata.create_all)
        if found is None:
            await conn.execute(insert(schema_version).values(**_reached(SCHEMA_VERSION)))
            return 0, SCHEMA_VERSION
    for version in range(found + 1, SCHEMA_VERSION + 1):
        async with engine.begin() as conn:
            await _serialise(conn)
            current = await _version(conn)
            if current is not None and current >= version:
                continue  # another server upgraded it meanwhile
            for statement in MIGRATIONS.get(version, []):
                if not await _already_there(conn, statement):
                    await conn.execute(text(statement))
            await conn.execute(update(schema_version).values(**_reached(version)))
    return found, SCHEMA_VERSION


def _reached(version: int) -> dict[str, int]:
    """The schema row of ``version`` (``readable_by`` exists from version 4)."""
    if version < 4:
        return {"version": version}
    return {"version": version, "readable_by": READABLE_BY.get(version, version)}


async def _serialise(conn: Any) -> None:
    """PostgreSQL: one schema change at a time, none waiting long for a table's lock."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_KEY})"))
        await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))


async def schema_version_of(engine: AsyncEngine) -> int | None:
    """The database's schema version; None when it has no schema yet.  Reads only."""
    async with engine.connect() as conn:
        return await _version(conn)


_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.I)


async def _already_there(conn: Any, statement: str) -> bool:
    """SQLite commits each ALTER TABLE at once, outside the transaction: a migration
    cut short is re-run, and the columns it already added are skipped."""
    match = _ADD_COLUMN.match(statement)
    if match is None:
        return False
    table, column = match.groups()

    def columns(sync_conn: Any) -> set[str]:
        return {c["name"] for c in sa_inspect(sync_conn).get_columns(table)}

    return column in await conn.run_sync(columns)


async def _version(conn: object) -> int | None:
    def read(sync_conn: object) -> int | None:
        if not sa_inspect(sync_conn).has_table(schema_version.name):
            return None
        return sync_conn.execute(select(func.max(schema_version.c.version))).scalar()  # type: ignore[attr-defined,no-any-return]

    return await conn.run_sync(read)  # type: ignore[attr-defined,no-any-return]
