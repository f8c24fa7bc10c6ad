"""The conversations of the MessageStore: create (get-or-create by key), list,
get, rename, delete.  Guarantees: see ``messages.py``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..models import Conversation, utcnow
from .engine import guarded
from .rows import StoreBase, conversation_of, conversation_row, new_id, utc
from .schema import conversations, messages

__all__ = ["ConversationQueries"]


class ConversationQueries(StoreBase):
    """Conversations, each visible to its owner only (``owner=None``: to all)."""

    @guarded
    async def create_conversation(
        self, owner: str, title: str = "", key: str | None = None
    ) -> tuple[Conversation, bool]:
        """Create a conversation, or return the owner's one with ``key``.

        Returns the conversation and whether it was created.
        """
        if key is not None:
            found = await self._conversation_by_key(owner, key)
            if found is not None:
                return found, False
        now = utcnow()
        row = {
            "id": new_id(),
            "owner": owner,
            "key": key,
            "title": title,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(conversations).values(**row))
        except IntegrityError:
            found = await self._conversation_by_key(owner, key or "")
            if found is None:
                raise
            return found, False
        return conversation_of(row), True

    @guarded
    async def list_conversations(
        self, owner: str | None, limit: int = 50, before: datetime | None = None
    ) -> list[Conversation]:
        """Newest first by ``updated_at``; ``before`` pages back in time."""
        query = select(conversations).order_by(conversations.c.updated_at.desc(), conversations.c.pk.desc())
        if owner is not None:
            query = query.where(conversations.c.owner == owner)
        if before is not None:
            query = query.where(conversations.c.updated_at < utc(before))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        return [conversation_of(row) for row in rows]

    @guarded
    async def get_conversation(self, owner: str | None, conversation_id: str) -> Conversation:
        async with self.engine.connect() as conn:
            return conversation_of(await conversation_row(conn, owner, conversation_id))

    @guarded
    async def rename_conversation(self, owner: str | None, conversation_id: str, title: str) -> Conversation:
        async with self.engine.begin() as conn:
            await conversation_row(conn, owner, conversation_id)
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=title, updated_at=utcnow())
            )
            return conversation_of(await conversation_row(conn, owner, conversation_id))

    @guarded
    async def delete_conversation(self, owner: str | None, conversation_id: str) -> None:
        async with self.engine.begin() as conn:
            await conversation_row(conn, owner, conversation_id)
            await conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            await conn.execute(delete(conversations).where(conversations.c.id == conversation_id))

    async def _conversation_by_key(self, owner: str, key: str) -> Conversation | None:
        query = select(conversations).where(conversations.c.owner == owner, conversations.c.key == key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else conversation_of(row)
