"""Create or upgrade the message store's schema: the migration story.

The server creates a missing schema itself, upgrades an older one in place
while older servers keep serving (additive steps; on PostgreSQL one server at
a time, under an advisory lock), and refuses a newer one that its
``readable_by`` does not allow (``versions.py``).  The same upgrade can be run
on purpose, for instance before a rolling restart::

    python -m jupyter_resumechat.store.migrate postgresql+asyncpg://user@host/db

Each schema version adds its statements to ``schema.MIGRATIONS``; they run in
order, in one transaction per version, and record the version reached.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from .schema import MIGRATIONS, SCHEMA_VERSION
from .setup import prepare_schema

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "upgrade"]


async def upgrade(url: str) -> tuple[int, int]:
    """Bring the database at ``url`` to ``SCHEMA_VERSION``; return (before, after)."""
    engine = create_async_engine(url)
    try:
        return await prepare_schema(engine)
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
