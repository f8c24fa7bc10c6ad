"""Which schema versions may share one database, checked at start and on use.

During a rolling upgrade servers of two versions share the database (docs/protocol.md#upgrades).
The schema row says which version the database is at and the oldest
version whose servers still use it correctly (``readable_by``): a server older
than that refuses, with a 503 naming both versions and what to do, rather
than misread data it does not know.  Every server checks at start and again
with each heartbeat, so one that an upgrade left behind while it runs stops
serving at once instead of writing a schema it no longer understands.

The instances table says which version each live server runs, so a new kind
of data is written only once no older server remains (``oldest_live``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import Unavailable
from .clock import database_now
from .engine import guarded
from .schema import SCHEMA_VERSION, instances, schema_version

__all__ = ["UNVERSIONED", "SchemaState", "Versions"]

UNVERSIONED = 3  # an instance row without a version: a server of schema 3 or older


@dataclass(frozen=True)
class SchemaState:
    """The database's schema version and the oldest version that may use it."""

    version: int
    readable_by: int

    def problem(self, ours: int = SCHEMA_VERSION) -> str | None:
        """Why a server of schema ``ours`` must not use this database; None if it may."""
        if self.version <= ours or self.readable_by <= ours:
            return None
        return (
            f"the database has schema version {self.version}, usable by servers of schema "
            f"version {self.readable_by} or newer; this server runs schema version {ours}: "
            "upgrade jupyter-resumechat on this server (the database was upgraded by a newer "
            "server, so this one refuses rather than misread its data)"
        )


async def read_state(conn: AsyncConnection) -> SchemaState | None:
    """The schema row (version 4 or newer, which has ``readable_by``); None without one."""
    row = (
        await conn.execute(
            select(schema_version.c.version, schema_version.c.readable_by)
            .order_by(schema_version.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    version, readable_by = int(row[0]), row[1]
    return SchemaState(version, version if readable_by is None else int(readable_by))


class Versions:
    """This server's view of the versions sharing its database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.problem: str | None = None  # set once the database moved past this server

    @guarded
    async def check(self) -> None:
        """Read the schema row again; ``Unavailable`` (and ``problem`` kept) if it
        moved past what this server may use."""
        async with self.engine.connect() as conn:
            state = await read_state(conn)
        self.problem = None if state is None else state.problem()
        self.refuse()

    def refuse(self) -> None:
        """``Unavailable`` naming both versions, if the last check found the database
        moved past this server; every endpoint calls it."""
        if self.problem is not None:
            raise Unavailable(self.problem)

    @guarded
    async def oldest_live(self) -> int:
        """The oldest schema version a live server runs (this one included): a new
        kind of data may be written only when this is at least its version."""
        async with self.engine.connect() as conn:
            now = await database_now(conn)
            found = await conn.execute(
                select(func.coalesce(instances.c.version, UNVERSIONED)).where(instances.c.lease_until >= now)
            )
            return min(found.scalars(), default=SCHEMA_VERSION)
