"""MessageStore: conversations and messages, durable, on SQLAlchemy 2 async.

Guarantees: every method that returns has committed its writes; messages of
a conversation come back oldest first in insertion order; ``owner=None``
means "do not filter by owner" (single-user servers).  Raises ``NotFound``
for unknown ids and for ids that belong to another owner, ``Unavailable``
when the database cannot be reached or refuses to write (down, disk full,
read-only), never a driver's own exception.

Every streaming reply records the server instance that runs it; instances
renew a lease here (``heartbeat``), and only replies whose owner's lease
lapsed are recovered (DESIGN §2.3).  Writes of a reply's text are fenced by
that owner: a server that lost a reply writes nothing to it.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Concatenate, TypeVar

from sqlalchemy import bindparam, delete, event, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from typing_extensions import ParamSpec

from ..errors import GenerationActive, InvalidRequest, NotFound, Unavailable
from ..models import Context, Conversation, Message, MessageStatus, Role, Usage, utcnow
from .schema import conversations, instances, messages
from .setup import prepare_schema

__all__ = ["Commit", "CommitResult", "LapsedReply", "MessageStore", "NewTurn", "new_id"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_S = TypeVar("_S")
_P = ParamSpec("_P")
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


@dataclass(frozen=True)
class LapsedReply:
    """A ``streaming`` reply whose owner's lease lapsed: a candidate for recovery."""

    message_id: str
    stream_id: str
    owner_instance: str | None


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


def _guarded(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Turn driver failures into our errors: bad text is 400, the rest 503."""

    @functools.wraps(method)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except (IntegrityError, DataError) as exc:
            raise InvalidRequest(f"the database refused the data: {exc.orig}") from None
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise Unavailable(f"the database is unavailable: {_reason(exc)}") from exc

    return wrapper


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {inner}".strip()[:300]


class MessageStore:
    """Conversations and messages in a SQL database (see module docstring)."""

    def __init__(self, url: str, echo: bool = False, *, instance_id: str | None = None) -> None:
        self.url = url
        self.instance_id = instance_id or new_id()
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)

    @property
    def backend(self) -> str:
        """The database's dialect name (``sqlite``, ``postgresql``)."""
        return self.engine.dialect.name

    @_guarded
    async def start(self, lease: float = 10.0) -> None:
        """Create or upgrade the schema and register this instance with a lease."""
        await prepare_schema(self.engine)
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(instances).values(
                    id=self.instance_id,
                    host=socket.gethostname()[:255],
                    pid=os.getpid(),
                    started_at=now,
                    lease_until=now + lease,
                )
            )

    async def close(self) -> None:
        await self.engine.dispose()

    # instances

    @_guarded
    async def heartbeat(self, lease: float) -> None:
        """This instance is alive for ``lease`` seconds more."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(instances)
                .where(instances.c.id == self.instance_id)
                .values(lease_until=time.time() + lease)
            )

    @_guarded
    async def retire(self) -> None:
        """A clean stop: this instance's replies are concluded; forget it."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(instances).where(instances.c.id == self.instance_id))

    @_guarded
    async def lapsed_replies(self) -> list[LapsedReply]:
        """Streaming replies of other instances whose lease lapsed (or that died on
        this host: same host name, process gone), and replies with no owner."""
        now = time.time()
        async with self.engine.connect() as conn:
            alive = (await conn.execute(select(instances))).mappings().all()
            live = {row["id"] for row in alive if row["lease_until"] >= now and not _dead_here(row)}
            live.add(self.instance_id)
            rows = (
                await conn.execute(
                    select(messages.c.id, messages.c.stream_id, messages.c.owner_instance).where(
                        messages.c.status == _STREAMING
                    )
                )
            ).all()
            gone = [row["id"] for row in alive if row["id"] not in live and row["lease_until"] < now - 86_400]
            if gone:  # instances dead for a day: nothing refers to them any more
                await conn.execute(delete(instances).where(instances.c.id.in_(gone)))
                await conn.commit()
        return [LapsedReply(mid, sid or "", owner) for mid, sid, owner in rows if owner not in live]

    @_guarded
    async def recover(self, reply: LapsedReply) -> bool:
        """Mark a lapsed reply ``interrupted``, keeping its text; False if it moved on.

        The owner stays recorded: should it come back, it may still commit its
        full text over this (nobody announced another ending in between).
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == reply.message_id,
                    messages.c.status == _STREAMING,
                    _same_owner(reply.owner_instance),
                )
                .values(status=_INTERRUPTED, updated_at=utcnow())
            )
        return bool(result.rowcount)

    # conversations

    @_guarded
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

    @_guarded
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

    @_guarded
    async def get_conversation(self, owner: str | None, conversation_id: str) -> Conversation:
        async with self.engine.connect() as conn:
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    @_guarded
    async def rename_conversation(self, owner: str | None, conversation_id: str, title: str) -> Conversation:
        async with self.engine.begin() as conn:
            await _conversation_row(conn, owner, conversation_id)
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(title=title, updated_at=utcnow())
            )
            return _conversation(await _conversation_row(conn, owner, conversation_id))

    @_guarded
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

    @_guarded
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

    @_guarded
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
                lapsed = {r.message_id: r for r in await self.lapsed_replies()}
                if attempt or blocking.message_id not in lapsed or not await self.recover(blocking):
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

    @_guarded
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
            reply = (
                (await conn.execute(select(messages).where(messages.c.reply_to == user["id"])))
                .mappings()
                .first()
            )
        if reply is None:
            return None
        return _message(user), _message(reply), reply["stream_id"]

    @_guarded
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

    @_guarded
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

        One transaction for all; if it fails, each reply is written on its own,
        so one reply the database refuses harms only itself (§2.7).
        """
        rows = [{"b_id": mid, "b_content": c, "b_reasoning": r} for mid, c, r in partials]
        if not rows:
            return set()
        try:
            await self._checkpoint(rows)
            return set()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.debug("resumechat: batch checkpoint failed (%s); writing one by one", _reason(exc))
        failed = set()
        for row in rows:
            try:
                await self._checkpoint([row])
            except (SQLAlchemyError, OSError, TimeoutError) as exc:
                log.debug("resumechat: checkpoint of message %s failed: %s", row["b_id"], _reason(exc))
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

    @_guarded
    async def finish_message(
        self, message: Message, *, adopt: bool = False, owner: str | None = None
    ) -> CommitResult:
        """Commit the final state of a reply, fenced by its owner.

        The owner (this instance, or ``owner`` when replaying a spooled final)
        may conclude its reply while it is ``streaming`` or was marked
        ``interrupted`` by a recovery.  With ``adopt`` this instance takes over
        a ``streaming`` reply of a server whose lease lapsed.  A retried commit
        whose first attempt did land is recognised and reported as done.
        """
        owner = owner or self.instance_id
        if adopt:
            fence = messages.c.status == _STREAMING
        else:
            fence = (messages.c.owner_instance == owner) & messages.c.status.in_((_STREAMING, _INTERRUPTED))
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


def _same_owner(owner: str | None) -> Any:
    column = messages.c.owner_instance
    return column.is_(None) if owner is None else column == owner


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
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    if "asyncpg" in url:
        # bounded: a cut connection must fail, not hang a commit forever
        return {"pool_pre_ping": True, "connect_args": {"timeout": 10, "command_timeout": 30}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
