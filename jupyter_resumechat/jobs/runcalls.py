"""A run's calls as the model and the job read them: the calls of a model round
assembled from its streamed pieces, the run so far turned back into the model's
turns (each call's result, or what its ending means); what a run waits for is
the store's ``waiting_for`` (recovery reads it too).
Pure functions of the rows, so a run continued on any server reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..providers import CallDelta, ChatTurn, MadeCall
from ..store import CallRow, new_id, waiting_for
from ..tools import CallStatus

__all__ = ["CallCollector", "result_text", "run_turns", "waiting_for"]


class CallCollector:
    """The calls of one model round, assembled from its ``CallDelta`` pieces; each gets
    its id (ours) at its first piece, so its arguments can stream under it."""

    def __init__(self) -> None:
        self.calls: dict[str, list[str]] = {}  # provider id -> [our id, name, arguments]
        self.pending: dict[str, str] = {}  # our id -> argument text not yet streamed

    def feed(self, piece: CallDelta) -> None:
        entry = self.calls.get(piece.provider_id)
        if entry is None:
            entry = self.calls[piece.provider_id] = [new_id(), piece.name, ""]
        if piece.name and not entry[1]:
            entry[1] = piece.name
        if piece.arguments:
            entry[2] += piece.arguments
            self.pending[entry[0]] = self.pending.get(entry[0], "") + piece.arguments

    def take_pending(self) -> dict[str, str]:
        """Argument text not yet streamed, by call id (then none is pending)."""
        found, self.pending = self.pending, {}
        return found

    def made(self) -> list[tuple[str, MadeCall]]:
        return [(our, MadeCall(pid, name, arguments)) for pid, (our, name, arguments) in self.calls.items()]


def result_text(row: CallRow) -> tuple[str, bool]:
    """What the model reads for an ended call, and whether it is an error."""
    call = row.call
    status = CallStatus(call.status)
    if status is CallStatus.DONE:
        return (call.result or {}).get("content", ""), False
    if status is CallStatus.DENIED:
        note = (call.decision or {}).get("note")
        return "The user denied this call." + (f" Their note: {note}" if note else ""), True
    if status is CallStatus.CANCELLED:
        if row.executor or call.claimed_by:  # stopped while it ran
            return "This call was stopped while it ran: it may or may not have taken effect.", True
        return "This call was cancelled before it ran.", True
    if status is CallStatus.UNKNOWN:
        return (
            "The outcome of this call is unknown: whatever ran it stopped before answering. "
            "It may or may not have taken effect; check before doing it again.",
            True,
        )
    error = call.error or {}
    return f"error ({error.get('type', 'error')}): {error.get('detail', '')}", True


def run_turns(rows: Sequence[CallRow], content: str) -> tuple[list[ChatTurn], int]:
    """The run so far as the model reads it: each round's text and calls, then
    each call's result; and where the text after the last round starts."""
    turns: list[ChatTurn] = []
    start = 0
    rounds = sorted({row.round for row in rows})
    for number in rounds:
        these = [row for row in rows if row.round == number]
        offset = max(start, min(these[0].text_offset, len(content)))
        made = tuple(MadeCall(r.provider_id, r.call.name, r.arguments_text) for r in these)
        turns.append(ChatTurn("assistant", content[start:offset], calls=made))
        for row in these:
            text, is_error = result_text(row)
            turns.append(ChatTurn("tool", text, call_id=row.provider_id, is_error=is_error))
        start = offset
    return turns, start
