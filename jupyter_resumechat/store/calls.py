"""The tool calls of agent runs in the MessageStore: each a row, each move one conditional UPDATE.

A call moves only from the status the mover saw (``WHERE status IN …``), so
two servers given the same decision, or a claimant racing a stop, change it
once: the first wins and the other reads back what won.  Every move is
committed before the job announces it (docs/protocol.md#guarantees, 10).

The steps a person or a page takes (decide, claim, result) are
``decisions.py``; the parking of a run that waits is ``parking.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import NotFound
from ..models import Message, ToolCall, format_time, parts_of, utcnow
from ..tools import CallStatus
from .engine import guarded
from .rows import STREAMING, aware, json_text
from .schema import conversations, messages, tool_calls
from .turns import TurnQueries

__all__ = ["APPROVAL", "PAGE", "CallRow", "NewCall", "RunSteps", "waiting_for"]

OPEN = [s.value for s in CallStatus if not s.ended]  # the statuses a call ends from
APPROVAL = "approval"  # what a parked run waits for (``messages.waiting``)
PAGE = "page"


@dataclass(frozen=True)
class NewCall:
    """A call the model proposed, with the status the policy gave it."""

    id: str
    provider_id: str
    name: str
    arguments: dict[str, Any]
    arguments_text: str  # as the model wrote it (what the model reads back)
    runs_on: str
    effect: str
    status: CallStatus
    error: dict[str, str] | None = None


@dataclass(frozen=True)
class CallRow:
    """A call as stored: its wire shape and what the run needs besides."""

    call: ToolCall
    message_id: str
    conversation_id: str
    round: int
    text_offset: int
    provider_id: str
    effect: str
    arguments_text: str
    executor: str | None

    @property
    def status(self) -> CallStatus:
        return CallStatus(self.call.status)


def _call_row(row: Any) -> CallRow:
    decision = None
    if row["decision"] is not None:
        decision = {
            "decision": row["decision"],
            "note": row["decision_note"],
            "at": format_time(aware(row["decided_at"])) if row["decided_at"] else None,
        }
    error = None
    if row["error_type"] is not None:
        error = {"type": row["error_type"], "detail": row["error_detail"] or ""}
    result = None
    if row["result"] is not None:
        result = {"content": row["result"], "truncated": bool(row["result_truncated"])}
    try:
        arguments = json.loads(row["arguments"])
    except ValueError:
        arguments = {}
    call = ToolCall(
        id=row["id"],
        name=row["name"],
        arguments=arguments if isinstance(arguments, dict) else {},
        runs_on=row["runs_on"],
        status=row["status"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        result=result,
        error=error,
        decision=decision,
        claimed_by=row["claimed_by"],
    )
    return CallRow(
        call,
        row["message_id"],
        row["conversation_id"],
        row["round"],
        row["text_offset"],
        row["provider_id"],
        row["effect"],
        row["arguments"],
        row["executor"],
    )


class RunSteps(TurnQueries):
    """Tool calls, decisions, claims and results, and the parking of runs that wait."""

    @guarded
    async def add_calls(
        self,
        message_id: str,
        conversation_id: str,
        round: int,
        offset: int,
        calls: Sequence[NewCall],
        text: tuple[str, str] | None = None,
    ) -> list[CallRow]:
        """Insert a round's calls, if the reply is still ours and streaming; [] if not.
        ``text`` (content, reasoning) is checkpointed with them: a server that dies
        before the run parks leaves text that reaches every call's offset."""
        now = utcnow()
        ours = (
            (messages.c.id == message_id)
            & (messages.c.status == STREAMING)
            & (messages.c.owner_instance == self.instance_id)
        )
        async with self.engine.begin() as conn:
            if text is None:
                found = (await conn.execute(select(messages.c.id).where(ours))).first() is not None
            else:
                content, reasoning = text
                saved = await conn.execute(
                    update(messages).where(ours).values(content=content, reasoning=reasoning, updated_at=now)
                )
                found = bool(saved.rowcount)
            if not found:
                return []
            await conn.execute(
                insert(tool_calls),
                [
                    {
                        "id": c.id,
                        "message_id": message_id,
                        "conversation_id": conversation_id,
                        "round": round,
                        "text_offset": offset,
                        "provider_id": c.provider_id,
                        "name": c.name,
                        "arguments": json_text(c.arguments)
                        if c.arguments or not c.arguments_text
                        else c.arguments_text,
                        "runs_on": c.runs_on,
                        "effect": c.effect,
                        "status": c.status.value,
                        "error_type": (c.error or {}).get("type"),
                        "error_detail": (c.error or {}).get("detail"),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for c in calls
                ],
            )
            rows = await self._rows(conn, tool_calls.c.id.in_([c.id for c in calls]))
        return rows

    async def _rows(self, conn: AsyncConnection, where: Any) -> list[CallRow]:
        found = await conn.execute(select(tool_calls).where(where).order_by(tool_calls.c.pk))
        return [_call_row(row) for row in found.mappings()]

    @guarded
    async def calls_of(self, message_id: str) -> list[CallRow]:
        """A reply's calls in the order they were proposed."""
        async with self.engine.connect() as conn:
            return await self._rows(conn, tool_calls.c.message_id == message_id)

    @guarded
    async def call_row(self, call_id: str, owner: str | None = None) -> CallRow:
        """One call; NotFound when unknown or in another user's conversation."""
        async with self.engine.connect() as conn:
            query = select(tool_calls).where(tool_calls.c.id == call_id)
            if owner is not None:
                query = query.join(conversations, conversations.c.id == tool_calls.c.conversation_id).where(
                    conversations.c.owner == owner
                )
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFound(f"tool call {call_id!r} is unknown")
        return _call_row(row)

    @guarded
    async def move_call(
        self, call_id: str, wanted: CallStatus, came_from: Iterable[CallStatus], /, **values: Any
    ) -> CallRow | None:
        """Move a call if it is still in one of ``came_from``; the call after, or None if it had moved."""
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(tool_calls)
                .where(tool_calls.c.id == call_id, tool_calls.c.status.in_([s.value for s in came_from]))
                .values(status=wanted.value, updated_at=utcnow(), **values)
            )
            if not changed.rowcount:
                return None
            return (await self._rows(conn, tool_calls.c.id == call_id))[0]

    @guarded
    async def forget_calls(self, message_id: str) -> None:
        """A regenerated reply starts again without the calls of its earlier run."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(tool_calls).where(tool_calls.c.message_id == message_id))

    async def with_parts(self, found: list[Message]) -> list[Message]:
        """Messages with their run's parts (those that have calls): what ``turns.py`` reads gets them."""
        ids = [m.id for m in found if m.role.value == "assistant"]
        if not ids:
            return found
        async with self.engine.connect() as conn:
            rows = await self._rows(conn, tool_calls.c.message_id.in_(ids))
        if not rows:
            return found
        by_message: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for row in rows:
            by_message.setdefault(row.message_id, []).append((row.text_offset, row.call.to_json()))
        return [
            m.replace(parts=parts_of(m.content, m.reasoning, by_message[m.id])) if m.id in by_message else m
            for m in found
        ]


def waiting_for(rows: Sequence[CallRow]) -> str | None:
    """What a run waits for, given its calls: a decision, a page's result, or nothing."""
    open_rows = [row for row in rows if not row.status.ended]
    if any(row.status is CallStatus.AWAITING_APPROVAL for row in open_rows):
        return APPROVAL
    if any(row.call.runs_on == "page" for row in open_rows):
        return PAGE
    return None
