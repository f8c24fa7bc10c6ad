"""Server instances and their leases: who may write which streaming reply.

Every server process registers an instance with a lease and renews it
(``heartbeat``); each streaming reply records its owner instance.  Only
replies whose owner's lease lapsed, or whose owner ran on this host and its
process is gone, are found here for recovery (docs/protocol.md#bounded-loss);
``endings.py`` recovers them.  Deadlines are written and
compared on the database's clock (``clock.py``), never this host's.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..models import MessageStatus
from .clock import database_now, now_expression
from .engine import guarded
from .schema import SCHEMA_VERSION, instances, messages

__all__ = ["Instances", "LapsedReply"]

_STREAMING = MessageStatus.STREAMING.value
_INTERRUPTED = MessageStatus.INTERRUPTED.value


@dataclass(frozen=True)
class LapsedReply:
    """A ``streaming`` reply whose owner's lease lapsed: a candidate for recovery."""

    message_id: str
    stream_id: str
    owner_instance: str | None


class Instances:
    """This server's instance row and the recovery of other instances' replies."""

    def __init__(self, engine: AsyncEngine, instance_id: str) -> None:
        self.engine = engine
        self.instance_id = instance_id

    @guarded
    async def register(self, lease: float) -> None:
        """This instance's row; idempotent, so a start retried after a lost answer works."""
        now = now_expression(self.engine.dialect.name)
        async with self.engine.begin() as conn:
            await conn.execute(delete(instances).where(instances.c.id == self.instance_id))
            await conn.execute(
                insert(instances).values(
                    id=self.instance_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    lease_until=now + lease,
                    version=SCHEMA_VERSION,
                )
            )

    @guarded
    async def heartbeat(self, lease: float) -> None:
        """This instance is alive for ``lease`` seconds more; its row comes back if a
        peer removed it (a laptop asleep for a day, a restored database)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(instances)
                .where(instances.c.id == self.instance_id)
                .values(lease_until=now_expression(self.engine.dialect.name) + lease)
            )
        if not result.rowcount:
            await self.register(lease)

    @guarded
    async def lease_until(self) -> float | None:
        """This instance's lease deadline (seconds since the epoch); None before it registered."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(instances.c.lease_until).where(instances.c.id == self.instance_id)
            )
            return found.scalar()

    @guarded
    async def retire(self) -> None:
        """A clean stop: this instance's replies are concluded; forget it."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(instances).where(instances.c.id == self.instance_id))

    @guarded
    async def lapsed_replies(self) -> list[LapsedReply]:
        """Streaming replies of other instances whose lease lapsed (or that died on
        this host: same host name, process gone), and replies with no owner."""
        async with self.engine.connect() as conn:
            now = await database_now(conn)
            alive = (await conn.execute(select(instances))).mappings().all()
            live = {row["id"] for row in alive if row["lease_until"] >= now and not _dead_here(row)}
            live.add(self.instance_id)
            rows = (
                await conn.execute(
                    select(messages.c.id, messages.c.stream_id, messages.c.owner_instance).where(
                        messages.c.status == _STREAMING,
                        messages.c.waiting.is_(None),  # a parked run has no owner to lapse
                    )
                )
            ).all()
            gone = [row["id"] for row in alive if row["id"] not in live and row["lease_until"] < now - 86_400]
            if gone:  # instances dead for a day: nothing refers to them any more
                await conn.execute(delete(instances).where(instances.c.id.in_(gone)))
                await conn.commit()
        return [LapsedReply(mid, sid or "", owner) for mid, sid, owner in rows if owner not in live]

    @guarded
    async def taken(self, message_ids: list[str]) -> set[str]:
        """Which of this instance's running replies are no longer its own: recovered
        by another server while this one's lease had lapsed (or deleted)."""
        if not message_ids:
            return set()
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(messages.c.id).where(
                    messages.c.id.in_(message_ids),
                    messages.c.status == _STREAMING,
                    messages.c.owner_instance == self.instance_id,
                )
            )
            return set(message_ids) - set(found.scalars())


def _dead_here(row: Any) -> bool:
    """An instance of this host whose process is gone is dead, lease or not."""
    if row["host"] != socket.gethostname()[:255] or not row["pid"]:
        return False
    if row["pid"] == os.getpid():
        return False  # this process: a previous store of it, or ourselves
    try:
        os.kill(row["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
