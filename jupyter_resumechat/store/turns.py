"""Turns of the MessageStore: a user message and the reply that answers it.

``add_turn`` inserts both in one transaction (the reply ``streaming``, owned
by this instance); the lookups read them back: the turn an earlier request
made (``find_turn``, retries are safe), what the model reads (``history``),
what a client shows (``list_messages``).  Guarantees: see ``messages.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ..errors import GenerationActive
from ..models import Context, Message, MessageStatus, Role, utcnow
from .engine import guarded
from .instances import LapsedReply
from .rows import STREAMING, StoreBase, conversation_row, json_text, message_of
from .schema import conversations, messages

__all__ = ["NewTurn", "TurnQueries"]


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
    tools: tuple[str, ...] | None = None  # the tools the reply may call; None: a plain reply


class TurnQueries(StoreBase):
    """Adds turns and reads messages back, oldest first."""

    async def with_parts(self, found: list[Message]) -> list[Message]:
        """Where a run's parts are added (``calls.py``); plain messages have none."""
        return found

    async def recover_lapsed(self, reply: LapsedReply) -> bool:
        """Where a lapsed reply that blocks a new turn is recovered (``endings.py``)."""
        raise NotImplementedError

    @guarded
    async def list_messages(self, owner: str | None, conversation_id: str) -> list[Message]:
        """The conversation's messages, oldest first."""
        async with self.engine.connect() as conn:
            await conversation_row(conn, owner, conversation_id)
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
        return await self.with_parts([message_of(row) for row in rows])

    @guarded
    async def add_turn(self, turn: NewTurn) -> tuple[Message, Message]:
        """Insert the user message and an empty ``streaming`` reply owned by this instance.

        Raises ``NotFound`` when the conversation is gone and ``GenerationActive``
        when another server runs a reply in it (one per conversation, docs/protocol.md#one-generation); a
        reply left by a server whose lease lapsed is recovered first.
        """
        for attempt in range(2):
            try:
                return await self._insert_turn(turn)
            except IntegrityError:
                blocking = await self._streaming_in(turn.conversation_id)
                if blocking is None:
                    async with self.engine.connect() as conn:
                        await conversation_row(conn, None, turn.conversation_id)  # NotFound
                    raise
                lapsed = {r.message_id: r for r in await self.instances.lapsed_replies()}
                if attempt or blocking.message_id not in lapsed or not await self.recover_lapsed(blocking):
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
            "context": json_text([c.to_json() for c in turn.context]) if turn.context else None,
            "usage": None,
            "context_window": None,
            "error_type": None,
            "error_detail": None,
            "tools": None,
            "created_at": now,
            "updated_at": now,
        }
        reply = {
            **user,
            "id": turn.assistant_message_id,
            "role": Role.ASSISTANT.value,
            "context": None,
            "content": "",
            "status": STREAMING,
            "model": turn.model,
            "client_id": None,
            "stream_id": turn.stream_id,
            "reply_to": user["id"],
            "owner_instance": self.instance_id,
            "tools": json_text(list(turn.tools)) if turn.tools is not None else None,
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
        return message_of(user), message_of(reply)

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
        return message_of(user), message_of(reply), reply["stream_id"]

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
        return [message_of(row) for row in rows]

    @guarded
    async def message_for_stream(self, stream_id: str) -> Message | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(messages).where(messages.c.stream_id == stream_id)))
                .mappings()
                .first()
            )
        return None if row is None else (await self.with_parts([message_of(row)]))[0]
