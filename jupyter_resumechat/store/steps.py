"""A reply's steps in the MessageStore: what happens to a reply after its turn.

A reply is restarted (regenerate, continue) and checkpointed while it
streams; every write is fenced by the reply's owner, so a server that lost a
reply writes nothing to it.  How a reply ends is ``endings.py``'s alone; the
steps of agent runs are ``calls.py``'s.  Guarantees: see ``messages.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import DataError, IntegrityError

from ..errors import GenerationActive, InvalidRequest, NotFound, Unavailable
from ..models import Message, MessageStatus, Role, utcnow
from .engine import DATABASE_ERRORS, guarded, reason
from .rows import STREAMING, StoreBase, message_of
from .schema import conversations, messages, tool_calls

__all__ = ["ReplySteps", "Restart"]

log = logging.getLogger("jupyter_resumechat.store.messages")


@dataclass(frozen=True)
class Restart:
    """A latest reply generated again: replaced (``keep_text`` false) or continued."""

    conversation_id: str
    message_id: str
    model: str
    client_id: str | None
    stream_id: str
    keep_text: bool


class ReplySteps(StoreBase):
    """Restarts, checkpoints and final commits of replies, fenced by their owner."""

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
                "status": STREAMING,
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
            if not restart.keep_text:  # a reply made again starts without its earlier run's calls
                await conn.execute(delete(tool_calls).where(tool_calls.c.message_id == restart.message_id))
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
        return message_of(user), message_of(reply)

    async def checkpoint(self, partials: Iterable[tuple[str, str, str]]) -> set[str]:
        """Save partial ``(message_id, content, reasoning)`` of this instance's
        streaming replies; returns the ids that could not be saved.

        One transaction for all.  If the database refuses the data, each reply is
        written on its own, so one reply it refuses harms only itself (docs/protocol.md#one-bad-reply); if
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
                messages.c.status == STREAMING,
                messages.c.owner_instance == self.instance_id,
            )
            .values(content=bindparam("b_content"), reasoning=bindparam("b_reasoning"), updated_at=now)
        )
        async with self.engine.begin() as conn:
            await conn.execute(statement, rows)


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
