"""Every write that ends a reply, and the calls it leaves open, in one place.

A reply ends three ways: its job commits its final (``finish_message``, via the
jobs' ``Concluder``, or replayed from the spool after a stop with the database
down); another server recovers it when its owner's lease lapsed
(``recover_lapsed``: ``interrupted`` with its checkpointed text; or, if its run
only waited for a person or a page, ``park_lapsed`` parks it); or a stop,
failure or adoption ends the calls a run left open (``end_open_calls``).  All
of them are fenced by the reply's owner, so a server that lost a reply writes
nothing to it (docs/protocol.md#bounded-loss), and a call caught running is
never reported done: it ends ``unknown`` (docs/protocol.md#guarantees 11).  A
reply never ends with a call still open: the final commit ends any its job
could not (the database was down when it tried) in the same transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import Message, MessageStatus, parts_of, utcnow
from ..tools import CallStatus
from .calls import OPEN, CallRow, RunSteps, waiting_for
from .clock import now_expression
from .engine import guarded
from .instances import LapsedReply
from .rows import INTERRUPTED, STREAMING, json_text, message_of
from .schema import conversations, messages, tool_calls

__all__ = ["Commit", "CommitResult", "ReplyEndings", "spooled_fence"]

_UNKNOWN = {
    "error_type": "unknown",
    "error_detail": "the server running this call stopped before it answered",
}


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


class ReplyEndings(RunSteps):
    """The final commit, the recovery of lapsed replies, and the end of open calls."""

    @guarded
    async def finish_message(
        self, message: Message, *, adopt: bool = False, owner: str | None = None
    ) -> CommitResult:
        """Commit the final state of a reply, fenced by its owner.

        The owner (this instance, or ``owner`` when replaying a spooled final)
        may conclude its reply while it is ``streaming`` or ``interrupted`` by
        itself; a reply another server recovered is theirs (``TAKEN``), except
        for a spooled final, which may still land on it (``spooled_fence``).
        With ``adopt`` this instance takes over a ``streaming`` reply of a
        server whose lease lapsed.  A retried commit whose first attempt did
        land is recognised and reported as done.
        """
        if adopt:
            fence = messages.c.status == STREAMING
        elif owner is not None and owner != self.instance_id:  # a spooled final, replayed
            fence = spooled_fence(owner, message.content)
        else:
            fence = (messages.c.owner_instance == self.instance_id) & messages.c.status.in_(
                (STREAMING, INTERRUPTED)
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
                    usage=json_text(message.usage.to_json()) if message.usage else None,
                    context_window=json_text(message.window.to_json()) if message.window else None,
                    owner_instance=owner,
                    waiting=None,
                    parked_at=None,
                    updated_at=now,
                )
            )
            if result.rowcount:
                await conn.execute(
                    update(conversations)
                    .where(conversations.c.id == message.conversation_id)
                    .values(updated_at=now)
                )
                final = message.replace(updated_at=now)
                # a reply never ends with a call still open: one its job could not end (the
                # database was down then) ends with it, and the final shows it so
                running_to = None if message.status is MessageStatus.ABORTED else CallStatus.UNKNOWN
                if await self._end_open(conn, message.id, CallStatus.CANCELLED, running_to):
                    rows = await self._rows(conn, tool_calls.c.message_id == message.id)
                    calls = [(row.text_offset, row.call.to_json()) for row in rows]
                    final = final.replace(parts=parts_of(final.content, final.reasoning, calls))
                return CommitResult(Commit.DONE, final)
            row = (await conn.execute(select(messages).where(messages.c.id == message.id))).mappings().first()
        if row is None:
            return CommitResult(Commit.GONE, None)
        held = message_of(row)
        if (
            row["owner_instance"] == owner
            and held.status is message.status
            and held.content == message.content
            and held.reasoning == message.reasoning
        ):
            return CommitResult(Commit.DONE, held)  # an earlier attempt landed
        return CommitResult(Commit.TAKEN, held)

    @guarded
    async def park_lapsed(
        self,
        message_id: str,
        owner: str | None,
        text: tuple[str, str] | None = None,
        *,
        any_owner: bool = False,
    ) -> str | None:
        """Park a reply whose server died while its run waited but before the park
        committed (between ``add_calls`` and ``park``): its calls wait for a person or
        a page and nothing of it runs, so it is not a failure.  Fenced by the owner
        seen lapsed (``any_owner``: by the orphaned stream's lease instead, as an
        adoption is); ``text`` (content, reasoning): a shared stream's fuller text.
        What it now waits for, or None (not waiting, a server call caught running,
        or it moved on): then the reply is recovered as a failure."""
        async with self.engine.begin() as conn:
            rows = await self._rows(conn, tool_calls.c.message_id == message_id)
            waiting = waiting_for(rows)
            caught = any(r.status is CallStatus.RUNNING and r.call.runs_on == "server" for r in rows)
            if waiting is None or caught:
                return None
            values: dict[str, Any] = {
                "waiting": waiting,
                "parked_at": now_expression(conn.dialect.name),
                "owner_instance": self.instance_id,  # as if parked here: an old owner that wakes stops
                "updated_at": utcnow(),
            }
            if text is not None:
                values.update(content=text[0], reasoning=text[1])
            result = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == message_id,
                    messages.c.status == STREAMING,
                    messages.c.waiting.is_(None),
                    true() if any_owner else _same_owner(owner),
                )
                .values(**values)
            )
        return waiting if result.rowcount else None

    @guarded
    async def recover_lapsed(self, reply: LapsedReply) -> bool:
        """Mark a lapsed reply ``interrupted``, keeping its text, and end its open calls
        as a failure does (one caught running: ``unknown``); False if it moved on.

        This instance becomes its owner: the adopter's ending is final.  Should
        the old owner wake up (a paused process, a partition), its checkpoints
        and its final match no row of its own and write nothing, and it stops
        the job when it sees the reply ``taken`` (docs/protocol.md#bounded-loss, #upgrades).
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(messages)
                .where(
                    messages.c.id == reply.message_id,
                    messages.c.status == STREAMING,
                    _same_owner(reply.owner_instance),
                )
                .values(status=INTERRUPTED, owner_instance=self.instance_id, updated_at=utcnow())
            )
            if result.rowcount:  # its calls: one caught running may have acted
                await self._end_open(conn, reply.message_id, CallStatus.CANCELLED, CallStatus.UNKNOWN)
        return bool(result.rowcount)

    @guarded
    async def end_open_calls(
        self,
        message_id: str,
        wanted: CallStatus,
        running_to: CallStatus | None = None,
        *,
        fenced: bool = True,
    ) -> list[CallRow]:
        """Every call of the reply not yet ended becomes ``wanted`` (a stop: cancelled);
        a server call caught running becomes ``running_to`` when given (a failure:
        ``unknown``, since it may have acted).  ``fenced``: only while the reply is this
        server's (a job that lost its run to another server ends none of its calls)."""
        async with self.engine.begin() as conn:
            if fenced:
                owner = await conn.execute(
                    select(messages.c.owner_instance).where(messages.c.id == message_id)
                )
                if owner.scalar() != self.instance_id:
                    return []
            return await self._end_open(conn, message_id, wanted, running_to)

    async def _end_open(
        self, conn: AsyncConnection, message_id: str, wanted: CallStatus, running_to: CallStatus | None
    ) -> list[CallRow]:
        """In ``conn``'s transaction: each open call of the reply becomes ``wanted``, a
        server call caught running ``running_to`` (when given); each move is conditional
        on the status read, so a call that moved meanwhile keeps its own."""
        open_rows = await self._rows(
            conn, (tool_calls.c.message_id == message_id) & tool_calls.c.status.in_(OPEN)
        )
        for row in open_rows:
            target = wanted
            if running_to is not None and row.status is CallStatus.RUNNING and row.call.runs_on == "server":
                target = running_to
            said = _UNKNOWN if target is CallStatus.UNKNOWN else {}
            await conn.execute(
                update(tool_calls)
                .where(tool_calls.c.id == row.call.id, tool_calls.c.status == row.status.value)
                .values(status=target.value, updated_at=utcnow(), **said)
            )
        return await self._rows(conn, tool_calls.c.id.in_([r.call.id for r in open_rows]))


def spooled_fence(owner: str, content: str) -> Any:
    """Where a final kept in the spool may still land: its owner's reply, streaming
    or interrupted, or one a peer recovered (``interrupted``, the checkpoint's text)
    that nobody moved past: no later message, and no more text than the spool's."""
    later = messages.alias("later")
    moved_on = exists().where(
        later.c.conversation_id == messages.c.conversation_id, later.c.pk > messages.c.pk
    )
    recovered = (
        (messages.c.status == INTERRUPTED) & ~moved_on & (func.length(messages.c.content) <= len(content))
    )
    return (
        (messages.c.owner_instance == owner) & messages.c.status.in_((STREAMING, INTERRUPTED))
    ) | recovered


def _same_owner(owner: str | None) -> Any:
    column = messages.c.owner_instance
    return column.is_(None) if owner is None else column == owner
