"""The StreamStore protocol: the event log of every generation.

A stream is the numbered event log of one assistant message: deltas 1, 2, 3…
then one ``final``. The store is what lets any client resume: it keeps the
last ``replay_window`` deltas for exact replay and the running content for a
snapshot, and it forgets a finished stream ``ttl`` seconds after its final.

Guarantees every implementation gives (a contract test suite checks them):

* ``append`` numbers events consecutively from 1; an event is readable by
  every later ``read_after`` of the same store as soon as ``append`` returns
  (a store that coalesces appends, Redis, shows it to other servers once its
  batch lands, within the coalescing window).  ``finish`` lands every piece
  appended before it first.
* ``read_after(sid, last_id)`` returns, in order, either the deltas after
  ``last_id`` (when ``last_id`` is within the retained window) or one snapshot
  covering everything so far (when ``last_id`` is ``None``, older than the
  window, or not a position in this stream), then the ``final`` if the stream
  has finished.  It waits up to ``timeout`` seconds when there is nothing new
  and returns an empty batch then; it never holds more than the window.
* For any sequence of reads, ``content == snapshot.content + deltas after``
  (docs/protocol.md#exactly-once).
* One open stream per conversation: ``open`` raises ``GenerationActive`` when
  the conversation already has one.
* Unknown or expired streams raise ``NotFound``; a store that cannot reach
  its backend raises ``Unavailable``.
* Writes are fenced: every stream has a lease generation (``StreamInfo.token``,
  1 at ``open``, bumped when another server adopts it); ``append`` and
  ``finish`` with an older token raise ``LeaseLost`` and change nothing.
  An ``append`` retried after a lost answer is applied once (guarded by its
  sequence number), so the store may retry on connection errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..background import Loop
from ..models import Event

__all__ = ["ReadResult", "StreamInfo", "StreamStore"]


@dataclass(frozen=True)
class StreamInfo:
    """What is known of a stream without reading its events."""

    stream_id: str
    conversation_id: str
    message_id: str
    started_at: datetime
    owner: str = ""
    last_event_id: int = 0
    finished: bool = False
    token: int = 1  # lease generation: who may write (see module docstring)


@dataclass(frozen=True)
class ReadResult:
    """A batch of events; ``done`` once the batch ends with the final."""

    events: list[Event] = field(default_factory=list)
    done: bool = False


class StreamStore(Protocol):
    """Where the events of generations live while they can be resumed."""

    backend: str  # "memory", "redis": what health reports

    async def open(self, info: StreamInfo) -> None:
        """Create an empty stream and make it its conversation's active one.

        Raises ``GenerationActive`` if the conversation has an open stream.
        """

    async def append(self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1) -> int:
        """Add one delta (text or reasoning) and return its event id.

        Raises ``NotFound`` (unknown, expired or finished) or ``LeaseLost``.
        """

    def append_nowait(
        self, stream_id: str, *, text: str = "", reasoning: str = "", token: int = 1
    ) -> int | None:
        """``append`` when it can be done without waiting, else ``None`` (then call
        ``append``).  Lets a job add a piece without a loop turn of its own, so a
        fast model's pieces reach readers in batches.  Raises as ``append``."""

    async def append_tool(self, stream_id: str, call: dict[str, Any], offset: int, *, token: int = 1) -> int:
        """Add a ``tool`` event (``{"call": call}``, the call's whole wire JSON) and return its id.

        ``offset`` is the reply's text length when the call was proposed: where
        the snapshot's ``parts`` place it (a call's first event fixes its place).
        Deltas queued before it come before it.  Raises as ``append``.
        """

    async def append_arguments(self, stream_id: str, call_id: str, text: str, *, token: int = 1) -> int:
        """Add a ``delta`` ``{"tool_arguments": {call_id, text}}``: more of a call's arguments
        as the model forms them (the call itself is announced by ``append_tool``)."""

    async def park(self, stream_id: str, token: int) -> None:
        """The run waits with no task (a decision, a page's result): its lease is given
        up without the stream being taken for an orphan; it stays open for readers."""

    async def reclaim(self, stream_id: str) -> StreamInfo | None:
        """Take a parked stream back to continue its run, with a new token that fences
        anyone else out; None when it is gone or finished (then open a new one)."""

    async def finish(self, stream_id: str, message: dict[str, Any], ttl: float, *, token: int = 1) -> int:
        """Add the ``final`` event carrying ``message``; expire ``ttl`` s later.

        The conversation has no active stream afterwards. Returns the final's id;
        finishing twice with the same token returns the first final's id.
        Raises ``NotFound`` or ``LeaseLost``.
        """

    async def read_after(self, stream_id: str, last_id: int | None, timeout: float) -> ReadResult:
        """Events after ``last_id``, waiting up to ``timeout`` s for new ones."""

    async def info(self, stream_id: str) -> StreamInfo:
        """The stream's current info; raises ``NotFound``."""

    async def active(self, conversation_id: str) -> StreamInfo | None:
        """The conversation's open stream, if any."""

    async def expire(self, stream_id: str) -> None:
        """Forget the stream now (no error if it is already gone)."""

    # Shared stores only (Redis): several servers, one of which owns each job.

    async def renew(self, tokens: dict[str, int], lease: float) -> None:
        """The owner is alive: its streams (id -> token) keep their leases
        ``lease`` seconds more; streams adopted meanwhile are left alone."""

    async def claim_orphans(self) -> list[StreamInfo]:
        """Open streams whose owner's lease lapsed, each claimed by one caller
        only, with a new token that fences the old owner out."""

    async def request_abort(self, stream_id: str) -> None:
        """Ask the owner of ``stream_id`` (on whatever server) to abort it."""

    def on_abort(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(stream_id)`` when some server asks for an abort."""

    def loops(self) -> list[Loop]:
        """The long-lived loops the store needs (Redis: the flusher of coalesced
        appends, the shared ``XREAD``, the abort channel), for its owner to run
        from start to stop; the store starts no task itself."""

    async def ping(self) -> None:
        """One round trip to the backend; ``Unavailable`` when it does not answer."""

    async def close(self) -> None:
        """Release connections and timers, once the owner has stopped ``loops()``."""
