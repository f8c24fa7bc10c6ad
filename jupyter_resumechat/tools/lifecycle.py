"""A tool call's life: one enum and the moves it may make.

::

    PROPOSED ──policy auto──▶ APPROVED ──executor starts──▶ RUNNING ──▶ DONE | ERROR
       │  └──policy ask──▶ AWAITING_APPROVAL ──approve──┘                └─▶ UNKNOWN
       │                         └──deny──▶ DENIED           (executor vanished mid-call)
       └──bad arguments / not offered──▶ ERROR
    any state not yet ended ──stop, or no decision in time──▶ CANCELLED

An ended call (``DONE``, ``ERROR``, ``DENIED``, ``CANCELLED``, ``UNKNOWN``) never
moves again: a call with an effect runs at most once, and one whose executor
vanished ends ``UNKNOWN`` rather than running again by itself.
"""

from __future__ import annotations

import enum

__all__ = ["ENDED", "CallStatus", "IllegalMove", "advance", "can_move"]


class CallStatus(str, enum.Enum):
    """Where a tool call is (the wire's ``ToolCall.status``)."""

    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    DENIED = "denied"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def ended(self) -> bool:
        """Whether the call has reached its end (nothing moves it again)."""
        return self in ENDED


ENDED = frozenset(
    {CallStatus.DONE, CallStatus.ERROR, CallStatus.DENIED, CallStatus.CANCELLED, CallStatus.UNKNOWN}
)

_MOVES: dict[CallStatus, frozenset[CallStatus]] = {
    CallStatus.PROPOSED: frozenset(
        {CallStatus.AWAITING_APPROVAL, CallStatus.APPROVED, CallStatus.ERROR, CallStatus.CANCELLED}
    ),
    CallStatus.AWAITING_APPROVAL: frozenset({CallStatus.APPROVED, CallStatus.DENIED, CallStatus.CANCELLED}),
    CallStatus.APPROVED: frozenset({CallStatus.RUNNING, CallStatus.CANCELLED}),
    CallStatus.RUNNING: frozenset(
        {CallStatus.DONE, CallStatus.ERROR, CallStatus.UNKNOWN, CallStatus.CANCELLED}
    ),
}


class IllegalMove(ValueError):
    """A move the call's life does not allow (the caller lost a race, or asked twice)."""

    def __init__(self, current: CallStatus, wanted: CallStatus) -> None:
        super().__init__(f"a {current.value} call cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


def can_move(current: CallStatus, wanted: CallStatus) -> bool:
    """Whether ``current`` may become ``wanted``."""
    return wanted in _MOVES.get(current, frozenset())


def advance(current: CallStatus, wanted: CallStatus) -> CallStatus:
    """``wanted`` if the move is allowed; raises IllegalMove otherwise."""
    if not can_move(current, wanted):
        raise IllegalMove(current, wanted)
    return wanted
