"""Bring a database to this package's schema: create it, or upgrade it in place.

Shared by the server's start and ``python -m jupyter_resumechat.store.migrate``.
Each version's statements run in one transaction and record the version
reached; a database newer than this package is refused.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from .schema import MIGRATIONS, SCHEMA_VERSION, metadata, schema_version

__all__ = ["prepare_schema"]


async def prepare_schema(engine: AsyncEngine) -> tuple[int, int]:
    """Create missing tables, apply pending migrations; return (before, after)."""
    async with engine.begin() as conn:
        found = await _version(conn)
        await conn.run_sync(metadata.create_all)
        if found is None:
            await conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            return 0, SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database has schema version {found}, newer than this "
            f"jupyter-resumechat understands ({SCHEMA_VERSION}); upgrade the package"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        async with engine.begin() as conn:
            current = await _version(conn)
            if current is not None and current >= version:
                continue  # another server upgraded it meanwhile
            for statement in MIGRATIONS.get(version, []):
                await conn.execute(text(statement))
            await conn.execute(update(schema_version).values(version=version))
    return found, SCHEMA_VERSION


async def _version(conn: object) -> int | None:
    from sqlalchemy import inspect as sa_inspect

    def read(sync_conn: object) -> int | None:
        if not sa_inspect(sync_conn).has_table(schema_version.name):
            return None
        return sync_conn.execute(select(func.max(schema_version.c.version))).scalar()  # type: ignore[attr-defined,no-any-return]

    return await conn.run_sync(read)  # type: ignore[attr-defined,no-any-return]
