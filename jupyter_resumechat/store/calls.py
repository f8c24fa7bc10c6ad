"""The tool calls of agent runs in the MessageStore: each a row, each move one conditional UPDATE.

A call moves only from the status the mover saw (``WHERE status IN …``), so
two servers given the same decision, or a claimant racing a stop, change it
once: the first wins and the other reads back what won.  Every move is
committed before the job announces it (docs/protocol.md#guarantees, 10).

A run that waits for a decision or a page's result is *parked*: its message
stays ``streaming`` with ``waiting`` set, no task and no lease of its own; the
lapse recovery leaves it alone, and whoever continues it first takes it back
with one conditional UPDATE (``adopt_parked``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..errors import CallConflict, NotFound
from ..models import Message, ToolCall, format_time, parts_of, utcnow
from ..tools import CallStatus, bound_result
from .clock import database_now, now_expression
from .engine import guarded
from .rows import STREAMING, aware, json_text, message_of
from .schema import conversations, instances, messages, tool_calls
from .turns import TurnQueries

__all__ = ["CallRow", "NewCall", "ParkedRun", "RunSteps"]

_OPEN = [s.value for s in CallStatus if not s.ended]


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


@dataclass(frozen=True)
class ParkedRun:
    """A run waiting for a decision or a page's result."""

    message_id: str
    conversation_id: str
    stream_id: str
    waiting: str
    waited: float  # seconds since it parked (the database's clock)
    parked_by_live: bool = False  # the server that parked it still holds a lease (and its stream)


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
        self, message_id: str, conversation_id: str, round: int, offset: int, calls: Sequence[NewCall]
    ) -> list[CallRow]:
        """Insert a round's calls, if the reply is still ours and streaming; [] if not."""
        now = utcnow()
        async with self.engine.begin() as conn:
            ours = await conn.execute(
                select(messages.c.id).where(
                    messages.c.id == message_id,
                    messages.c.status == STREAMING,
                    messages.c.owner_instance == self.instance_id,
                )
            )
            if ours.first() is None:
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
            open_rows = await self._rows(
                conn, (tool_calls.c.message_id == message_id) & tool_calls.c.status.in_(_OPEN)
            )
            for row in open_rows:
                target = wanted
                if (
                    running_to is not None
                    and row.status is CallStatus.RUNNING
                    and row.call.runs_on == "server"
                ):
                    target = running_to
                said: dict[str, Any] = {}
                if target is CallStatus.UNKNOWN:
                    said = {
                        "error_type": "unknown",
                        "error_detail": "the server running this call stopped before it answered",
                    }
                await conn.execute(
                    update(tool_calls)
                    .where(tool_calls.c.id == row.call.id, tool_calls.c.status == row.status.value)
                    .values(status=target.value, updated_at=utcnow(), **said)
                )
            return await self._rows(conn, tool_calls.c.id.in_([r.call.id for r in open_rows]))

    @guarded
    async def decide(
        self, call_id: str, owner: str | None, approve: bool, note: str | None
    ) -> tuple[CallRow, bool]:
        """The first decision wins; the same again changes nothing; the other one is a conflict."""
        row = await self.call_row(call_id, owner)
        wanted = "approve" if approve else "deny"
        moved = await self.move_call(
            call_id,
            CallStatus.APPROVED if approve else CallStatus.DENIED,
            [CallStatus.AWAITING_APPROVAL],
            decision=wanted,
            decision_note=note,
            decided_at=utcnow(),
        )
        if moved is not None:
            return moved, True
        row = await self.call_row(call_id, owner)
        decided = row.call.decision
        if decided is not None and decided["decision"] == wanted:
            return row, False
        reason = (
            f"the call was already {'approved' if decided['decision'] == 'approve' else 'denied'}"
            if decided is not None
            else f"the call is {row.call.status} and takes no decision"
        )
        raise CallConflict(reason, "decided" if decided is not None else "ended", row.call.to_json())

    @guarded
    async def claim(self, call_id: str, owner: str | None, client_id: str, lease: float) -> CallRow:
        """A page call to its first claimant (or to it again, renewing the lease)."""
        row = await self.call_row(call_id, owner)
        if row.call.runs_on != "page":
            raise CallConflict(
                "the server runs this call; pages cannot claim it", "not_page", row.call.to_json()
            )
        async with self.engine.begin() as conn:
            until = now_expression(conn.dialect.name) + lease
            changed = await conn.execute(
                update(tool_calls)
                .where(
                    tool_calls.c.id == call_id,
                    (tool_calls.c.status == CallStatus.APPROVED.value)
                    | (
                        (tool_calls.c.status == CallStatus.RUNNING.value)
                        & (tool_calls.c.claimed_by == client_id)
                    ),
                )
                .values(
                    status=CallStatus.RUNNING.value,
                    claimed_by=client_id,
                    claim_until=until,
                    updated_at=utcnow(),
                )
            )
            if changed.rowcount:
                return (await self._rows(conn, tool_calls.c.id == call_id))[0]
        row = await self.call_row(call_id, owner)
        if row.status is CallStatus.RUNNING:
            raise CallConflict("another page claimed this call", "claimed", row.call.to_json())
        raise CallConflict(
            f"the call is {row.call.status} and cannot be claimed", "ended", row.call.to_json()
        )

    @guarded
    async def submit_result(
        self,
        call_id: str,
        owner: str | None,
        client_id: str,
        content: str | None,
        error: str | None,
        limit: int,
    ) -> tuple[CallRow, bool]:
        """The claimant's result ends the call (once; the same again changes nothing)."""
        await self.call_row(call_id, owner)
        values: dict[str, Any]
        if error is not None:
            status, values = CallStatus.ERROR, {"error_type": "page", "error_detail": error[:limit]}
        else:
            bounded = bound_result(content or "", limit)
            status = CallStatus.DONE
            values = {"result": bounded.content, "result_truncated": int(bounded.truncated)}
        async with self.engine.begin() as conn:
            changed = await conn.execute(
                update(tool_calls)
                .where(
                    tool_calls.c.id == call_id,
                    tool_calls.c.status == CallStatus.RUNNING.value,
                    tool_calls.c.claimed_by == client_id,
                )
                .values(status=status.value, updated_at=utcnow(), **values)
            )
            if changed.rowcount:
                return (await self._rows(conn, tool_calls.c.id == call_id))[0], True
        row = await self.call_row(call_id, owner)
        same = row.call.claimed_by == client_id and row.status is status
        if same and status is CallStatus.DONE and row.call.result is not None:
            same = row.call.result["content"] == values["result"]
        if same:
            return row, False
        raise CallConflict(
            "only the page that claimed this call may give its result, once, while it runs",
            "claimed" if row.call.claimed_by != client_id else "ended",
            row.call.to_json(),
        )

    @guarded
    async def lapsed_claims(self) -> list[CallRow]:
        """Page calls whose claimant stopped renewing: each becomes ``unknown`` (it may have run)."""
        async with self.engine.begin() as conn:
            now = await database_now(conn)
            stale = await self._rows(
                conn,
                (tool_calls.c.status == CallStatus.RUNNING.value)
                & (tool_calls.c.runs_on == "page")
                & (tool_calls.c.claim_until < now),
            )
            moved = []
            for row in stale:
                changed = await conn.execute(
                    update(tool_calls)
                    .where(
                        tool_calls.c.id == row.call.id,
                        tool_calls.c.status == CallStatus.RUNNING.value,
                        tool_calls.c.claim_until < now,
                    )
                    .values(
                        status=CallStatus.UNKNOWN.value,
                        error_type="unknown",
                        error_detail="the page running this call went away before it answered",
                        updated_at=utcnow(),
                    )
                )
                if changed.rowcount:
                    moved.append(row.call.id)
            return await self._rows(conn, tool_calls.c.id.in_(moved)) if moved else []

    # parking

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


async def _owner_of(conn: AsyncConnection, conversation_id: str) -> str:
    found = await conn.execute(select(conversations.c.owner).where(conversations.c.id == conversation_id))
    owner = found.scalar()
    if owner is None:
        raise NotFound(f"conversation {conversation_id!r} not found")
    return str(owner)
