"""MessageStore: conversations and messages, durable, on SQLAlchemy 2 async.

Guarantees: every method that returns has committed its writes; messages of
a conversation come back oldest first in insertion order; ``owner=None``
means "do not filter by owner" (single-user servers).  Raises ``NotFound``
for unknown ids and for ids that belong to another owner, ``Unavailable``
when the database cannot be reached or refuses to write (down, disk full,
read-only), never a driver's own exception.

Every streaming reply records the server instance that runs it (leases and
recovery: ``instances.py``).  Writes of a reply's text are fenced by that
owner: a server that lost a reply writes nothing to it.
"""

from __future__ import annotations

import enum
import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import GenerationActive, InvalidRequest, NotFound, Unavailable
from ..models import Context, Conversation, Message, MessageStatus, Role, Usage, Window, utcnow
from .engine import DATABASE_ERRORS, guarded, make_engine, reason
from .instances import Instances, LapsedReply, spooled_fence
from .schema import conversations, messages
from .setup import prepare_schema
from .versions import Versions

__all__ = ["Commit", "CommitResult", "MessageStore", "NewTurn", "Restart", "new_id"]

log = logging.getLogger(__name__)

_STREAMING = MessageStatus.STREAMING.value
_INTERRUPTED = MessageStatus.INTERRUPTED.value


def new_id() -> str:
    """An opaque, unguessable id."""
    return uuid.uuid4().hex


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _utc(value: datetime) -> datetime:
    """The same instant in UTC: SQLite compares stored times as text."""
    return _aware(value).astimezone(timezone.utc)


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
    context: tuple[Context, ...] = ()
    title: str = ""  # the conversation's title if it has none yet


@dataclass(frozen=True)
class Restart:
    """A latest reply generated again: replaced (``keep_text`` false) or continued."""

    conversation_id: str
    message_id: str
    model: str
    client_id: str | None
    stream_id: str
    keep_text: bool


class Commit(enum.Enum):
    """How a final commit ended."""

    DONE = "done"  # the row holds our final message
    TAKEN = "taken"  # another server concluded or adopted it: the row holds theirs
    GONE = "gone"  # the row no longer exists (its conversation was deleted)


@dataclass(frozen=True)
class CommitResult:
    """A commit's outcome and the message the database now holds (if any)."""

    outcome: Commit
    message: Message | None


class MessageStore:
    """Conversations and messages in a SQL database (see module docstring)."""

    def __init__(self, url: str, echo: bool = False, *, instance_id: str | None = None) -> None:
        self.url = url
        self.instance_id = instance_id or new_id()
        self.engine = make_engine(url, echo)
        self.instances = Instances(self.engine, self.instance_id)
        self.versions = Versions(self.engine)

    @property
    def backend(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.engine.dialect.name

    @guarded
    async def start(self, lease: float = 10.0) -> None:
        """Create or upgrade the schema (or refuse one too new) and register this
        instance with a lease."""
        await prepare_schema(self.engine)
        await self.versions.check()
        await self.instances.register(lease)

    async def close(self) -> None:
        await self.engine.dispose()

    # conversations

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
        return _conversation(row), True

    @guarded
    async def list_conversations(
        self, owner: str | None, limit: int = 50, before: datetime | None = None
    ) -> list[Conversation]:
        """Newest first by ``updated_at``; ``before`` pages back in time."""
        query = select(conversations).order_by(conversations.c.updated_at.desc(), conversations.c.pk.desc())
        if owner is not None:
            query = query.where(conversations.c.owner == owner)
        if before is not None:
            query = query.where(conversations.c.updated_at < _utc(before))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.limit(limit))).mappings().all()
        return [_conversation(row) for row in rows]

    @guarded
    async def get_conversation(self, owner: str | None, conversation_id: str) -> Conversation:
        async with self.engine.connect() as conn:
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    @guarded
    async def rename_conversation(self, owner: str | None, conversation_id: str, title: str) -> Conversation:
        async with self.engine.begin() as conn:
            await _conversation_row(conn, owner, conversation_id)
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=title, updated_at=utcnow())
            )
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    @guarded
    async def delete_conversation(self, owner: str | None, conversation_id: str) -> None:
        async with self.engine.begin() as conn:
            await _conversation_row(conn, owner, conversation_id)
            await conn.execute(delete(messages).where(messages.c.conversation_id == conversation_id))
            await conn.execute(delete(conversations).where(conversations.c.id == conversation_id))

    async def _conversation_by_key(self, owner: str, key: str) -> Conversation | None:
        query = select(conversations).where(conversations.c.owner == owner, conversations.c.key == key)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _conversation(row)

    # messages

    @guarded
    async def list_messages(self, owner: str | None, conversation_id: str) -> list[Message]:
        """The conversation's messages, oldest first."""
        async with self.engine.connect() as conn:
            await _conversation_row(conn, owner, conversation_id)
            rows = (
                (
                    await conn.execute(
                        select(messages)
                        .where(messages.c.conversation_id == conversation_id)
                        .order_by(messages.c.pk)
                    )
                )
                .mappings()
                .all()
            )
        return [_message(row) for row in rows]

    @guarded
    async def add_turn(self, turn: NewTurn) -> tuple[Message, Message]:
        """Insert the user message and an empty ``streaming`` reply owned by this instance.

        Raises ``NotFound`` when the conversation is gone and ``GenerationActive``
        when another server runs a reply in it (one per conversation, §2.6); a
        reply left by a server whose lease lapsed is recovered first.
        """
        for attempt in range(2):
            try:
                return await self._insert_turn(turn)
            except IntegrityError:
                blocking = await self._streaming_in(turn.conversation_id)
                if blocking is None:
                    await self.get_conversation(None, turn.conversation_id)  # NotFound
                    raise
                lapsed = {r.message_id: r for r in await self.instances.lapsed_replies()}
                if attempt or blocking.message_id not in lapsed or not await self.instances.recover(blocking):
                    raise GenerationActive("a generation is already active", blocking.stream_id) from None
        raise AssertionError("unreachable")

    async def _insert_turn(self, turn: NewTurn) -> tuple[Message, Message]:
        now = utcnow()
        user = {
            "id": turn.user_message_id,
            "conversation_id": turn.conversation_id,
            "role": Role.USER.value,
            "content": turn.content,
            "reasoning": "",
            "status": MessageStatus.COMPLETE.value,
            "model": None,
            "client_id": turn.client_id,
            "stream_id": None,
            "reply_to": None,
            "owner_instance": None,
            "context": _json([c.to_json() for c in turn.context]) if turn.context else None,
            "usage": None,
            "context_window": None,
            "error_type": None,
            "error_detail": None,
            "created_at": now,
            "updated_at": now,
        }
        reply = {
            **user,
            "id": turn.assistant_message_id,
            "role": Role.ASSISTANT.value,
            "context": None,
            "content": "",
            "status": _STREAMING,
            "model": turn.model,
            "client_id": None,
            "stream_id": turn.stream_id,
            "reply_to": user["id"],
            "owner_instance": self.instance_id,
        }
        async with self.engine.begin() as conn:
            await conn.execute(insert(messages), [user, reply])
            await conn.execute(
                update(conversations).where(conversations.c.id == turn.conversation_id).values(updated_at=now)
            )
            if turn.title:
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == turn.conversation_id, conversations.c.title == "")
                    .values(title=turn.title)
                )
        return _message(user), _message(reply)

    @guarded
    async def restart_reply(self, restart: Restart) -> tuple[Message, Message]:
        """Make the conversation's latest reply ``streaming`` again under a new stream,
        owned by this instance: emptied, or with its text kept to be continued.

        Returns (the user message it answers, the reply).  Raises ``NotFound`` for
        an unknown message, ``InvalidRequest`` when it is not the latest reply and
        ``GenerationActive`` when a reply streams in the conversation.
        """
        for attempt in range(2):
            try:
                return await self._restart(restart)
            except (IntegrityError, _Raced):
                blocking = await self._streaming_in(restart.conversation_id)
                if blocking is not None:
                    raise GenerationActive("a generation is already active", blocking.stream_id) from None
                if attempt:
                    raise Unavailable("the reply kept changing under this request; send it again") from None
        raise AssertionError("unreachable")

    async def _restart(self, restart: Restart) -> tuple[Message, Message]:
        now = utcnow()
        async with self.engine.begin() as conn:
            latest = (
                (
                    await conn.execute(
                        select(messages)
                        .where(messages.c.conversation_id == restart.conversation_id)
                        .order_by(messages.c.pk.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .first()
            )
            if latest is None or latest["id"] != restart.message_id:
                known = await conn.execute(
                    select(messages.c.id).where(
                        messages.c.id == restart.message_id,
                        messages.c.conversation_id == restart.conversation_id,
                    )
                )
                if known.first() is None:
                    raise NotFound(f"no message {restart.message_id!r} in this conversation")
            _check_restartable(latest, restart)
            assert latest is not None
            values: dict[str, Any] = {
                "status": _STREAMING,
                "stream_id": restart.stream_id,
                "owner_instance": self.instance_id,
                "model": restart.model,
                "error_type": None,
                "error_detail": None,
                "usage": None,
                "context_window": None,
                "updated_at": now,
            }
            if not restart.keep_text:
                values.update(content="", reasoning="")
            if restart.client_id is not None:  # an earlier request's id keeps answering otherwise
                values["client_id"] = restart.client_id
            changed = await conn.execute(
                update(messages)
                .where(  # fenced: a second server restarting the same reply changes nothing
                    messages.c.pk == latest["pk"],
                    messages.c.status == latest["status"],
                    messages.c.stream_id.is_not_distinct_from(latest["stream_id"]),
                )
                .values(**values)
            )
            if not changed.rowcount:
                raise _Raced()
            user = (
                (await conn.execute(select(messages).where(messages.c.id == latest["reply_to"])))
                .mappings()
                .first()
            )
            reply = (
                (await conn.execute(select(messages).where(messages.c.pk == latest["pk"]))).mappings().one()
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == restart.conversation_id)
                .values(updated_at=now)
            )
        if user is None:
            raise NotFound("the user message this reply answers is gone")
        return _message(user), _message(reply)

    async def _streaming_in(self, conversation_id: str) -> LapsedReply | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(messages.c.id, messages.c.stream_id, messages.c.owner_instance).where(
                        messages.c.conversation_id == conversation_id, messages.c.status == _STREAMING
                    )
                )
            ).first()
        return None if row is None else LapsedReply(row[0], row[1] or "", row[2])

    @guarded
    async def find_turn(self, conversation_id: str, client_id: str) -> tuple[Message, Message, str] | None:
        """The turn an earlier send with ``client_id`` made: (user, reply, stream id)."""
        async with self.engine.connect() as conn:
            user = (
                (
                    await conn.execute(
                        select(messages).where(
                            messages.c.conversation_id == conversation_id, messages.c.client_id == client_id
                        )
                    )
                )
                .mappings()
                .first()
            )
            if user is None:
                return None
            if user["role"] == Role.ASSISTANT.value:  # a regenerate or continue
                user, reply = (
                    (
                        (await conn.execute(select(messages).where(messages.c.id == user["reply_to"])))
                        .mappings()
                        .first()
                    ),
                    user,
                )
            else:
                reply = (
                    (await conn.execute(select(messages).where(messages.c.reply_to == user["id"])))
                    .mappings()
                    .first()
                )
            if user is None:
                return None
        if reply is None:
            return None
        return _message(user), _message(reply), reply["stream_id"]

    @guarded
    async def history(self, conversation_id: str, until_message_id: str) -> list[Message]:
        """Messages before ``until_message_id``: the context sent to the model."""
        async with self.engine.connect() as conn:
            until = select(messages.c.pk).where(messages.c.id == until_message_id).scalar_subquery()
            rows = (
                (
                    await conn.execute(
                        select(messages)
                        .where(messages.c.conversation_id == conversation_id, messages.c.pk < until)
                        .order_by(messages.c.pk)
                    )
                )
                .mappings()
                .all()
            )
        return [_message(row) for row in rows]

    @guarded
    async def message_for_stream(self, stream_id: str) -> Message | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(messages).where(messages.c.stream_id == stream_id)))
                .mappings()
                .first()
            )
        return None if row is None else _message(row)

    async def checkpoint(self, partials: Iterable[tuple[str, str, str]]) -> set[str]:
        """Save partial ``(message_id, content, reasoning)`` of this instance's
        streaming replies; returns the ids that could not be saved.

        One transaction for all.  If the database refuses the data, each reply is
        written on its own, so one reply it refuses harms only itself (§2.7); if
        the database is down, none is saved and no reply is tried on its own (a
        connect timeout per reply would hold the supervisor up).
        """
        rows = [{"b_id": mid, "b_content": c, "b_reasoning": r} for mid, c, r in partials]
        if not rows:
            return set()
        try:
            await self._checkpoint(rows)
            return set()
        except (DataError, IntegrityError) as exc:
            log.debug("resumechat: batch checkpoint refused (%s); writing one by one", reason(exc))
        except DATABASE_ERRORS as exc:
            log.debug("resumechat: checkpoint failed: %s", reason(exc))
            return {row["b_id"] for row in rows}
        failed = set()
        for row in rows:
            try:
                await self._checkpoint([row])
            except DATABASE_ERRORS as exc:
                log.debug("resumechat: checkpoint of message %s failed: %s", row["b_id"], reason(exc))
                failed.add(row["b_id"])
        return failed

    async def _checkpoint(self, rows: list[dict[str, Any]]) -> None:
        now = utcnow()
        statement = (
            update(messages)
            .where(
                messages.c.id == bindparam("b_id"),
                messages.c.status == _STREAMING,
                messages.c.owner_instance == self.instance_id,
            )
            .values(content=bindparam("b_content"), reasoning=bindparam("b_reasoning"), updated_at=now)
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement, rows)

    @guarded
    async def finish_message(
        self, message: Message, *, adopt: bool = False, owner: str | None = None
    ) -> CommitResult:
        """Commit the final state of a reply, fenced by its owner.

        The owner (this instance, or ``owner`` when replaying a spooled final)
        may conclude its reply while it is ``streaming`` or ``interrupted`` by
        itself; a reply another server recovered is theirs (``TAKEN``), except
        for a spooled final, which may still land on it (``spooled_fence``).
        With ``adopt`` this instance takes over
        a ``streaming`` reply of a server whose lease lapsed.  A retried commit
        whose first attempt did land is recognised and reported as done.
        """
        if adopt:
            fence = messages.c.status == _STREAMING
        elif owner is not None and owner != self.instance_id:  # a spooled final, replayed
            fence = spooled_fence(owner, message.content)
        else:
            fence = (messages.c.owner_instance == self.instance_id) & messages.c.status.in_(
                (_STREAMING, _INTERRUPTED)
            )
        owner = owner or self.instance_id
        now, error = utcnow(), message.error or {}
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(messages)
                .where(messages.c.id == message.id, fence)
                .values(
                    content=message.content,
                    reasoning=message.reasoning,
                    status=message.status.value,
                    error_type=error.get("type"),
                    error_detail=error.get("detail"),
                    usage=_json(message.usage.to_json()) if message.usage else None,
                    context_window=_json(message.window.to_json()) if message.window else None,
                    owner_instance=owner,
                    updated_at=now,
                )
            )
            if result.rowcount:
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == message.conversation_id)
                    .values(updated_at=now)
                )
                return CommitResult(Commit.DONE, message.replace(updated_at=now))
            row = (await conn.execute(select(messages).where(messages.c.id == message.id))).mappings().first()
        if row is None:
            return CommitResult(Commit.GONE, None)
        held = _message(row)
        if (
            row["owner_instance"] == owner
            and held.status is message.status
            and held.content == message.content
            and held.reasoning == message.reasoning
        ):
            return CommitResult(Commit.DONE, held)  # an earlier attempt landed
        return CommitResult(Commit.TAKEN, held)


class _Raced(Exception):
    """Another transaction changed the reply between our read and our write."""


def _check_restartable(latest: Any, restart: Restart) -> None:
    """Only the conversation's latest message, a reply not streaming, is generated again."""
    if latest is None or latest["id"] != restart.message_id:
        raise InvalidRequest(
            f"message {restart.message_id!r} is not the latest reply of this conversation; "
            "only the latest reply can be regenerated or continued"
        )
    if latest["role"] != Role.ASSISTANT.value:
        raise InvalidRequest(f"message {restart.message_id!r} is not a reply")
    if latest["status"] == MessageStatus.STREAMING.value:
        raise GenerationActive("this reply is still streaming", latest["stream_id"] or "")


async def _conversation_row(conn: AsyncConnection, owner: str | None, conversation_id: str) -> Any:
    query = select(conversations).where(conversations.c.id == conversation_id)
    if owner is not None:
        query = query.where(conversations.c.owner == owner)
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"conversation {conversation_id!r} not found")
    return row


def _conversation(row: Any) -> Conversation:
    return Conversation(
        id=row["id"],
        key=row["key"],
        title=row["title"],
        created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]),
    )


def _message(row: Any) -> Message:
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
        created_at=_aware(row["created_at"]),
        updated_at=_aware(row["updated_at"]),
        context=[Context.from_json(c) for c in json.loads(row["context"] or "[]")],
        usage=Usage.from_json(json.loads(row["usage"])) if row["usage"] else None,
        window=Window.from_json(json.loads(row["context_window"])) if row["context_window"] else None,
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
