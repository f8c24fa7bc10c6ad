"""The database's clock: the one clock every server sharing the database reads.

Leases are deadlines compared across hosts; each host's own ``time.time()``
may run seconds or minutes off, so a host 30 s ahead would take every other
server's 10 s lease as lapsed (docs/protocol.md#guarantees invariant 13).  Deadlines are
therefore written and compared as the database's time, in seconds since the
epoch (a ``Float`` column).  SQLite has no server: its clock is the clock of
the host that holds the file, which is every server sharing it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["database_now", "now_expression"]

_SQLITE_EPOCH = "((julianday('now') - 2440587.5) * 86400.0)"


def now_expression(dialect: str) -> ColumnElement[Any]:
    """The database's current time in seconds since the epoch, as SQL."""
    if dialect == "sqlite":
        return literal_column(_SQLITE_EPOCH, Float)
    # clock_timestamp(), not now(): a long transaction must not read an old time
    return cast(func.extract("epoch", func.clock_timestamp()), Float)


async def database_now(conn: AsyncConnection) -> float:
    """The database's current time in seconds since the epoch."""
    found = await conn.execute(select(now_expression(conn.dialect.name)))
    return float(found.scalar_one())
