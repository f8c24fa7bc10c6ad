"""Rows to models and back, shared by the parts of the MessageStore.

What every part needs: ids, times as the database keeps them, the JSON text
of a column, a row as a ``Conversation`` or a ``Message``, and the
owner-checked lookup of a conversation (``NotFound`` for another's).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import NotFound
from ..models import Context, Conversation, Message, MessageStatus, Role, Usage, Window
from .instances import Instances, LapsedReply
from .schema import conversations, messages

__all__ = [
    "INTERRUPTED",
    "STREAMING",
    "StoreBase",
    "aware",
    "conversation_of",
    "conversation_row",
    "json_text",
    "message_of",
    "new_id",
    "utc",
]

STREAMING = MessageStatus.STREAMING.value
INTERRUPTED = MessageStatus.INTERRUPTED.value


def new_id() -> str:
    """An opaque, unguessable id."""
    return uuid.uuid4().hex


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def utc(value: datetime) -> datetime:
    """The same instant in UTC: SQLite compares stored times as text."""
    return aware(value).astimezone(timezone.utc)


class StoreBase:
    """What the parts of the MessageStore share: the engine and this instance."""

    engine: AsyncEngine
    instance_id: str
    instances: Instances

    async def _streaming_in(self, conversation_id: str) -> LapsedReply | None:
        """The conversation's streaming reply, if any (one at most: docs/protocol.md#one-generation)."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(messages.c.id, messages.c.stream_id, messages.c.owner_instance).where(
                        messages.c.conversation_id == conversation_id, messages.c.status == STREAMING
                    )
                )
            ).first()
        return None if row is None else LapsedReply(row[0], row[1] or "", row[2])


async def conversation_row(conn: AsyncConnection, owner: str | None, conversation_id: str) -> Any:
    query = select(conversations).where(conversations.c.id == conversation_id)
    if owner is not None:
        query = query.where(conversations.c.owner == owner)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"conversation {conversation_id!r} not found")
    return row


def conversation_of(row: Any) -> Conversation:
    return Conversation(
        id=row["id"],
        key=row["key"],
        title=row["title"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
    )


def message_of(row: Any) -> Message:
    error = None
    if row["error_type"] is not None:
        error = {"type": row["error_type"], "detail": row["error_detail"] or ""}
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=Role(row["role"]),
        content=row["content"],
        reasoning=row["reasoning"] or "",
        status=MessageStatus(row["status"]),
        model=row["model"],
        error=error,
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        context=[Context.from_json(c) for c in json.loads(row["context"] or "[]")],
        usage=Usage.from_json(json.loads(row["usage"])) if row["usage"] else None,
        window=Window.from_json(json.loads(row["context_window"])) if row["context_window"] else None,
    )


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
