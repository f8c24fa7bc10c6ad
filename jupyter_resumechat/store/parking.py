"""Runs that wait, in the MessageStore: parked, found, taken back.

A run that waits for a decision or a page's result is *parked*: its message
stays ``streaming`` with ``waiting`` set (and when, on the database's clock),
no task and no lease of its own; the lapse recovery leaves it alone, and
whoever continues it first takes it back with one conditional UPDATE
(``adopt_parked``).  Beside it, what a run needs that is not a call: the tools
it may call, and those a conversation approved for good.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFound
from ..models import Message, utcnow
from .clock import database_now, now_expression
from .engine import guarded
from .rows import STREAMING, StoreBase, json_text, message_of
from .schema import conversations, instances, messages

__all__ = ["ParkedRun", "ParkedRuns"]


@dataclass(frozen=True)
class ParkedRun:
    """A run waiting for a decision or a page's result."""

    message_id: str
    conversation_id: str
    stream_id: str
    waiting: str
    waited: float  # seconds since it parked (the database's clock)
    parked_by_live: bool = False  # the server that parked it still holds a lease (and its stream)


class ParkedRuns(StoreBase):
    """Park, find and take back runs that wait (see the module docstring)."""

    @guarded
    async def park(self, message_id: str, waiting: str, content: str, reasoning: str) -> bool:
        """Leave a waiting run in the database with its text; False if it is not ours any more."""
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == message_id,
                    messages.c.status == STREAMING,
                    messages.c.owner_instance == self.instance_id,
                )
                .values(
                    waiting=waiting,
                    parked_at=now_expression(conn.dialect.name),
                    content=content,
                    reasoning=reasoning,
                    updated_at=utcnow(),
                )
            )
        return bool(changed.rowcount)

    @guarded
    async def adopt_parked(self, message_id: str) -> tuple[Message, str] | None:
        """Take a parked run to continue it here: the message and its stream's id; None
        if another server took it first (or it is not parked)."""
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == message_id,
                    messages.c.status == STREAMING,
                    messages.c.waiting.is_not(None),
                )
                .values(waiting=None, parked_at=None, owner_instance=self.instance_id, updated_at=utcnow())
            )
            if not changed.rowcount:
                return None
            row = (await conn.execute(select(messages).where(messages.c.id == message_id))).mappings().one()
        return message_of(row), row["stream_id"] or ""

    @guarded
    async def move_stream(self, message_id: str, old: str, new: str) -> bool:
        """A run continued on a new stream (its old one is gone): the message names it."""
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == message_id, messages.c.stream_id == old, messages.c.status == STREAMING
                )
                .values(stream_id=new)
            )
        return bool(changed.rowcount)

    @guarded
    async def parked_runs(self, message_id: str | None = None) -> list[ParkedRun]:
        """Runs that wait (all, or one), with how long each has waited."""
        async with self.engine.connect() as conn:
            now = await database_now(conn)
            query = select(
                messages.c.id,
                messages.c.conversation_id,
                messages.c.stream_id,
                messages.c.waiting,
                messages.c.parked_at,
                messages.c.owner_instance,
            ).where(messages.c.status == STREAMING, messages.c.waiting.is_not(None))
            if message_id is not None:
                query = query.where(messages.c.id == message_id)
            rows = (await conn.execute(query)).all()
            live = set()
            if rows:
                found = await conn.execute(select(instances.c.id).where(instances.c.lease_until >= now))
                live = set(found.scalars())
        return [
            ParkedRun(m, c, s or "", w, max(0.0, now - (p or now)), o in live and o != self.instance_id)
            for m, c, s, w, p, o in rows
        ]

    @guarded
    async def conversation_owner(self, conversation_id: str) -> str:
        """Who owns the conversation ("" on a single-user server)."""
        async with self.engine.connect() as conn:
            return await _owner_of(conn, conversation_id)

    @guarded
    async def tools_of(self, message_id: str) -> list[str] | None:
        """The tool names a reply may call; None: a plain reply."""
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(messages.c.tools).where(messages.c.id == message_id))).scalar()
        return None if value is None else list(json.loads(value))

    @guarded
    async def always_tools(self, conversation_id: str) -> set[str]:
        """Tools approved for good in this conversation ("Always for this conversation")."""
        async with self.engine.connect() as conn:
            value = (
                await conn.execute(
                    select(conversations.c.always_tools).where(conversations.c.id == conversation_id)
                )
            ).scalar()
        return set(json.loads(value)) if value else set()

    @guarded
    async def add_always(self, conversation_id: str, name: str) -> None:
        async with self.engine.begin() as conn:
            value = (
                await conn.execute(
                    select(conversations.c.always_tools).where(conversations.c.id == conversation_id)
                )
            ).scalar()
            names = set(json.loads(value)) if value else set()
            names.add(name)
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(always_tools=json_text(sorted(names)))
            )


async def _owner_of(conn: AsyncConnection, conversation_id: str) -> str:
    found = await conn.execute(select(conversations.c.owner).where(conversations.c.id == conversation_id))
    owner = found.scalar()
    if owner is None:
        raise NotFound(f"conversation {conversation_id!r} not found")
    return str(owner)
