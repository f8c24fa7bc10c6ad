"""Bring a database to this package's schema: create it, or upgrade it in place.

Shared by the server's start and ``python -m jupyter_resumechat.store.migrate``.
Each version's statements run in one transaction and record the version
reached; a database newer than this package is refused.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import Unavailable
from .schema import MIGRATIONS, SCHEMA_VERSION, metadata, schema_version

__all__ = ["prepare_schema", "schema_version_of"]


async def prepare_schema(engine: AsyncEngine) -> tuple[int, int]:
    """Create missing tables, apply pending migrations; return (before, after)."""
    async with engine.begin() as conn:
        found = await _version(conn)
        await conn.run_sync(metadata.create_all)
        if found is None:
            await conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            return 0, SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise Unavailable(
            f"the database has schema version {found}, newer than this "
            f"jupyter-resumechat understands ({SCHEMA_VERSION}); upgrade the package"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        async with engine.begin() as conn:
            current = await _version(conn)
            if current is not None and current >= version:
                continue  # another server upgraded it meanwhile
            for statement in MIGRATIONS.get(version, []):
                if not await _already_there(conn, statement):
                    await conn.execute(text(statement))
            await conn.execute(update(schema_version).values(version=version))
    return found, SCHEMA_VERSION


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
