"""MessageStore: conversations and messages, durable, on SQLAlchemy 2 async.

Guarantees: every method that returns has committed its writes; messages of
a conversation come back oldest first in insertion order; ``owner=None``
means "do not filter by owner" (single-user servers).  Raises ``NotFound``
for unknown ids and for ids that belong to another owner.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import bindparam, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import NotFound
from ..models import Conversation, Message, MessageStatus, Role, utcnow
from .schema import SCHEMA_VERSION, conversations, messages, metadata, schema_version

__all__ = ["MessageStore", "NewTurn"]

log = logging.getLogger(__name__)


def new_id() -> str:
    """An opaque, unguessable id."""
    return uuid.uuid4().hex


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class NewTurn:
    """A user message and the assistant message that will answer it."""

    conversation_id: str
    content: str
    model: str | None
    client_id: str | None
    stream_id: str
    user_message_id: str
    assistant_message_id: str


class MessageStore:
    """Conversations and messages in a SQL database (see module docstring)."""

    def __init__(self, url: str, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    async def start(self) -> int:
        """Create or check the schema; turn left-over ``streaming`` messages into
        ``interrupted`` (keeping their text). Returns how many were recovered."""
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await _check_version(conn)
            result = await conn.execute(
                update(messages)
                .where(messages.c.status == MessageStatus.STREAMING.value)
                .values(status=MessageStatus.INTERRUPTED.value, updated_at=utcnow())
            )
        return result.rowcount or 0

    async def close(self) -> None:
        await self.engine.dispose()

    # conversations

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
        row = {"id": new_id(), "owner": owner, "key": key, "title": title,
               "created_at": now, "updated_at": now}
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(conversations).values(**row))
        except IntegrityError:
            found = await self._conversation_by_key(owner, key or "")
            if found is None:
                raise
            return found, False
        return _conversation(row), True

    async def list_conversations(
        self, owner: str | None, limit: int = 50, before: datetime | None = None
    ) -> list[Conversation]:
        """Newest first by ``updated_at``; ``before`` pages back in time."""
        query = select(conversations).order_by(
            conversations.c.updated_at.desc(), conversations.c.pk.desc()
        )
        if owner is not None:
            query = query.where(conversations.c.owner == owner)
        if before is not None:
            query = query.where(conversations.c.updated_at < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        return [_conversation(row) for row in rows]

    async def get_conversation(self, owner: str | None, conversation_id: str) -> Conversation:
        async with self.engine.connect() as conn:
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    async def rename_conversation(
        self, owner: str | None, conversation_id: str, title: str
    ) -> Conversation:
        async with self.engine.begin() as conn:
            await _conversation_row(conn, owner, conversation_id)
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=title, updated_at=utcnow())
            )
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    async def delete_conversation(self, owner: str | None, conversation_id: str) -> None:
        async with self.engine.begin() as conn:
            await _conversation_row(conn, owner, conversation_id)
            await conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            await conn.execute(delete(conversations).where(conversations.c.id == conversation_id))

    async def _conversation_by_key(self, owner: str, key: str) -> Conversation | None:
        query = select(conversations).where(
            conversations.c.owner == owner, conversations.c.key == key
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _conversation(row)

    # messages

    async def list_messages(self, owner: str | None, conversation_id: str) -> list[Message]:
        """The conversation's messages, oldest first."""
        async with self.engine.connect() as conn:
            await _conversation_row(conn, owner, conversation_id)
            rows = (
                await conn.execute(
                    select(messages)
                    .where(messages.c.conversation_id == conversation_id)
                    .order_by(messages.c.pk)
                )
            ).mappings().all()
        return [_message(row) for row in rows]

    async def add_turn(self, turn: NewTurn) -> tuple[Message, Message]:
        """Insert the user message and an empty ``streaming`` assistant reply."""
        now = utcnow()
        user = {"id": turn.user_message_id, "conversation_id": turn.conversation_id,
                "role": Role.USER.value, "content": turn.content, "reasoning": "",
                "status": MessageStatus.COMPLETE.value, "model": None,
                "client_id": turn.client_id, "stream_id": None, "reply_to": None,
                "error_type": None, "error_detail": None, "created_at": now, "updated_at": now}
        reply = {**user, "id": turn.assistant_message_id, "role": Role.ASSISTANT.value, "content": "",
                 "status": MessageStatus.STREAMING.value, "model": turn.model,
                 "client_id": None, "stream_id": turn.stream_id, "reply_to": user["id"]}
        async with self.engine.begin() as conn:
            await conn.execute(insert(messages), [user, reply])
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == turn.conversation_id)
                .values(updated_at=now)
            )
        return _message(user), _message(reply)

    async def find_turn(
        self, conversation_id: str, client_id: str
    ) -> tuple[Message, Message, str] | None:
        """The turn an earlier send with ``client_id`` made: (user, reply, stream id)."""
        async with self.engine.connect() as conn:
            user = (
                await conn.execute(
                    select(messages).where(
                        messages.c.conversation_id == conversation_id,
                        messages.c.client_id == client_id,
                    )
                )
            ).mappings().first()
            if user is None:
                return None
            reply = (
                await conn.execute(select(messages).where(messages.c.reply_to == user["id"]))
            ).mappings().first()
        if reply is None:
            return None
        return _message(user), _message(reply), reply["stream_id"]

    async def history(self, conversation_id: str, until_message_id: str) -> list[Message]:
        """Messages before ``until_message_id``: the context sent to the model."""
        async with self.engine.connect() as conn:
            until = (
                select(messages.c.pk).where(messages.c.id == until_message_id).scalar_subquery()
            )
            rows = (
                await conn.execute(
                    select(messages)
                    .where(messages.c.conversation_id == conversation_id, messages.c.pk < until)
                    .order_by(messages.c.pk)
                )
            ).mappings().all()
        return [_message(row) for row in rows]

    async def message_for_stream(self, stream_id: str) -> Message | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(messages).where(messages.c.stream_id == stream_id))
            ).mappings().first()
        return None if row is None else _message(row)

    async def checkpoint(self, partials: Iterable[tuple[str, str, str]]) -> None:
        """Save partial ``(message_id, content, reasoning)`` of streaming messages,
        all in one transaction; messages no longer streaming are left alone."""
        now = utcnow()
        rows = [{"b_id": mid, "b_content": c, "b_reasoning": r, "b_now": now}
                for mid, c, r in partials]
        if not rows:
            return
        statement = (
            update(messages)
            .where(messages.c.id == bindparam("b_id"),
                   messages.c.status == MessageStatus.STREAMING.value)
            .values(content=bindparam("b_content"), reasoning=bindparam("b_reasoning"),
                    updated_at=bindparam("b_now"))
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement, rows)

    async def finish_message(self, message: Message) -> Message:
        """Commit the final state of an assistant message."""
        now = utcnow()
        error = message.error or {}
        async with self.engine.begin() as conn:
            await conn.execute(
                update(messages)
                .where(messages.c.id == message.id)
                .values(content=message.content, reasoning=message.reasoning,
                        status=message.status.value, error_type=error.get("type"),
                        error_detail=error.get("detail"), updated_at=now)
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == message.conversation_id)
                .values(updated_at=now)
            )
        return message.replace(updated_at=now)


async def _conversation_row(
    conn: AsyncConnection, owner: str | None, conversation_id: str
) -> Any:
    query = select(conversations).where(conversations.c.id == conversation_id)
    if owner is not None:
        query = query.where(conversations.c.owner == owner)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"conversation {conversation_id!r} not found")
    return row


async def _check_version(conn: AsyncConnection) -> None:
    found = (await conn.execute(select(func.max(schema_version.c.version)))).scalar()
    if found is None:
        await conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
    elif found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database has schema version {found}, newer than this "
            f"jupyter-resumechat understands ({SCHEMA_VERSION}); upgrade the package"
        )


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row["id"], key=row["key"], title=row["title"],
        created_at=_aware(row["created_at"]), updated_at=_aware(row["updated_at"]),
    )


def _message(row: Any) -> Message:
    error = None
    if row["error_type"] is not None:
        error = {"type": row["error_type"], "detail": row["error_detail"] or ""}
    return Message(
        id=row["id"], conversation_id=row["conversation_id"], role=Role(row["role"]),
        content=row["content"], reasoning=row["reasoning"] or "",
        status=MessageStatus(row["status"]), model=row["model"], error=error,
        created_at=_aware(row["created_at"]), updated_at=_aware(row["updated_at"]),
    )


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
