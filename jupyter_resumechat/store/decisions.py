"""The steps a person or a page takes in a run, in the MessageStore: a decision, a
claim, a result; and a claim that lapsed.

Each is one conditional UPDATE from the status the caller may act on, so the
first decision wins, one page holds a call, and a result lands once; whoever
comes second reads back what won (``CallConflict`` carries the call).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from ..errors import CallConflict
from ..models import utcnow
from ..tools import CallStatus, bound_result
from .calls import CallRow, RunSteps
from .clock import database_now, now_expression
from .engine import guarded
from .schema import tool_calls

__all__ = ["CallDecisions"]


class CallDecisions(RunSteps):
    """Decisions, claims and results of tool calls (see the module docstring)."""

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
    async def claim(
        self, call_id: str, owner: str | None, client_id: str, lease: float
    ) -> tuple[CallRow, bool]:
        """A page call to its first claimant (or to it again, renewing the lease); and
        whether this claim started it (a renewal changes no status)."""
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
                started = row.status is CallStatus.APPROVED
                return (await self._rows(conn, tool_calls.c.id == call_id))[0], started
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
