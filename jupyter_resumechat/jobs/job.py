"""One generation job and the plain values around it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..models import Message, MessageStatus
from ..streams import ReadResult, StreamInfo, StreamStore

__all__ = ["Job", "JobSettings", "SendResult", "Subscription", "uncancel"]


@dataclass(frozen=True)
class JobSettings:
    """Plain values the manager runs by (the app fills them from traits)."""

    stream_ttl: float = 300.0
    checkpoint_interval: float = 1.0
    max_message_chars: int = 100_000
    provider_timeout: float = 60.0
    max_active_per_user: int = 0  # 0: no cap
    isolate_users: bool = False
    owner_lease: float = 10.0  # shared stores: a silent owner's streams are orphans after this


@dataclass(frozen=True)
class SendResult:
    """The answer to a send: both messages and the stream to read."""

    user_message: Message
    assistant_message: Message
    stream_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "user_message": self.user_message.to_json(),
            "assistant_message": self.assistant_message.to_json(),
            "stream_id": self.stream_id,
        }


@dataclass(eq=False)
class Job:
    """One running generation."""

    info: StreamInfo
    message: Message
    task: asyncio.Task[None] | None = None
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    dirty: bool = False
    last_progress: float = 0.0
    stop_status: MessageStatus | None = None
    stop_error: dict[str, str] | None = None
    running: bool = False
    concluding: bool = False
    final: Message | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def content(self) -> tuple[str, str]:
        """The text so far, compacting the pieces so joins stay cheap."""
        if len(self.text) > 1:
            self.text[:] = ["".join(self.text)]
        if len(self.reasoning) > 1:
            self.reasoning[:] = ["".join(self.reasoning)]
        return (self.text[0] if self.text else "", self.reasoning[0] if self.reasoning else "")

    def stop(self, status: MessageStatus, error: dict[str, str] | None = None) -> None:
        """Ask the job to end with ``status``; the first reason wins."""
        if self.stop_status is None and self.task is not None and not self.task.done():
            self.stop_status, self.stop_error = status, error
            # A task cancelled before its first step would never run its handler;
            # ``_run`` checks ``stop_status`` when it starts instead. Once the job
            # concludes, nothing may interrupt its commit.
            if self.running and not self.concluding:
                self.task.cancel()


class Subscription:
    """One reader of one stream; counted while open."""

    def __init__(self, streams: StreamStore, stream_id: str) -> None:
        self.stream_id = stream_id
        self._streams = streams

    async def read(self, last_id: int | None, timeout: float) -> ReadResult:
        """The next batch after ``last_id`` (see ``StreamStore.read_after``)."""
        return await self._streams.read_after(self.stream_id, last_id, timeout)



def uncancel() -> None:
    """Consume our own cancellation so the job can still commit (Python ≥ 3.11)."""
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):
        task.uncancel()
