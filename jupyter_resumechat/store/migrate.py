"""Create or upgrade the message store's schema: the migration story.

The server creates a missing schema itself and refuses a database newer than
it understands. Shared databases (PostgreSQL for several servers) are best
upgraded on purpose, once, before the new servers start::

    python -m jupyter_resumechat.store.migrate postgresql+asyncpg://user@host/db

Each future schema version adds its statements to ``MIGRATIONS``; they run in
order, in one transaction per version, and record the version reached.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import create_async_engine

from .schema import SCHEMA_VERSION, metadata, schema_version

__all__ = ["MIGRATIONS", "upgrade"]

# version -> statements that bring version - 1 up to it (version 1 is create_all)
MIGRATIONS: dict[int, list[str]] = {}


async def upgrade(url: str) -> tuple[int, int]:
    """Bring the database at ``url`` to ``SCHEMA_VERSION``; return (before, after)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            found = (await conn.execute(select(func.max(schema_version.c.version)))).scalar()
            if found is None:
                await conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
                return 0, SCHEMA_VERSION
        if found > SCHEMA_VERSION:
            raise RuntimeError(f"the database is at version {found}, newer than this package ({SCHEMA_VERSION})")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            async with engine.begin() as conn:
                for statement in MIGRATIONS.get(version, []):
                    await conn.execute(text(statement))
                await conn.execute(update(schema_version).values(version=version))
        return found, SCHEMA_VERSION
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    before, after = asyncio.run(upgrade(args[0]))
    print(f"schema version {before} -> {after}" if before != after else f"schema is at version {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
