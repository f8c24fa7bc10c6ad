"""One generation job, its lifecycle, and the plain values around it.

A job's life is one enum (STYLE §15)::

    PENDING ──run──▶ GENERATING ──model done / stop / failure──▶ CONCLUDING ──▶ DONE
       └──────────────── stop before the first step ──────────────┘

``stop()`` records the first reason to end and interrupts the generation;
once the job concludes, nothing interrupts its commit.
"""

from __future__ import annotations

import asyncio
import enum
import re
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Message, MessageStatus, Usage, Window, parts_of
from ..providers import Delta
from ..redaction import Redactor
from ..streams import StreamInfo
from .fanout import Chunk, Feed
from .text import TextNormalizer

__all__ = ["Ending", "Job", "JobSettings", "JobState", "RunState", "Subscription", "with_context"]


@dataclass(frozen=True)
class JobSettings:
    """Plain values the manager runs by (the app fills them from traits)."""

    stream_ttl: float = 300.0
    checkpoint_interval: float = 1.0
    max_message_chars: int = 100_000
    context_item_chars: int = 8_000  # an attached item longer than this is cut
    provider_timeout: float = 60.0
    max_active_per_user: int = 0  # 0: no cap
    isolate_users: bool = False
    owner_lease: float = 10.0  # a silent server's replies are recovered after this
    spool_dir: Path | None = None  # where finals wait when the database is down at stop
    stop_timeout: float = 5.0  # how long a stop waits for commits before spooling them
    context_tokens: Mapping[str, int] = field(default_factory=dict)  # model (or glob) -> token budget
    redact: Redactor = field(default_factory=Redactor)  # what every stored error detail passes
    max_tool_rounds: int = 20  # model calls in one run with tools
    tool_result_chars: int = 20_000  # a tool's result is cut to this before the model reads it
    tool_wait_timeout: float = 1800.0  # seconds a run waits for a decision or a page's result
    claim_lease: float = 30.0  # seconds a page's claim of a call holds without renewal


class JobState(enum.Enum):
    """Where a job is in its life; only ``GENERATING`` may be interrupted."""

    PENDING = "pending"
    GENERATING = "generating"
    CONCLUDING = "concluding"
    DONE = "done"


@dataclass(frozen=True)
class Ending:
    """How a reply ends: the message to commit and the stream to announce it on."""

    info: StreamInfo
    message: Message
    adopted: bool = False  # concluded by a server that took over a dead owner's reply


@dataclass(eq=False)
class RunState:
    """The tool side of a job whose reply may call tools (``agent.py``)."""

    selection: list[str]  # the tool names it may call ("*": every one offered)
    specs: dict[str, Any] = field(default_factory=dict)  # name -> ToolSpec, once offered
    calls: dict[str, Any] = field(default_factory=dict)  # call id -> CallRow, in order
    round: int = 0  # model calls made so far
    first_round: int = 0  # where this run's count starts (a person's Continue starts it afresh)
    executing: bool = False  # a server call runs now (the model is not silent)
    waiting: str | None = None  # set when the job ends to wait: "approval" | "page"
    resumed: bool = False  # continued after a wait or on another server: its text is kept

    def parts(self, content: str, reasoning: str) -> list[dict[str, Any]]:
        return parts_of(
            content, reasoning, [(row.text_offset, row.call.to_json()) for row in self.calls.values()]
        )


@dataclass(eq=False)
class Job:
    """One running generation: its text so far and how it should end."""

    info: StreamInfo
    message: Message
    last_progress: float = 0.0
    state: JobState = JobState.PENDING
    task: asyncio.Task[None] | None = None
    stop_status: MessageStatus | None = None
    stop_error: dict[str, str] | None = None
    final: Message | None = None
    dirty: bool = False
    continued: bool = False  # the reply's earlier text is kept and extended
    usage: Usage | None = None  # tokens, as the provider last reported them
    window: Window | None = None  # how the conversation was fitted into the model's context
    run: RunState | None = None  # a reply that may call tools
    done: asyncio.Event = field(default_factory=asyncio.Event)
    _text: list[str] = field(default_factory=list)
    _reasoning: list[str] = field(default_factory=list)
    _normal_text: TextNormalizer = field(default_factory=TextNormalizer)
    _normal_reasoning: TextNormalizer = field(default_factory=TextNormalizer)

    @property
    def stream_id(self) -> str:
        return self.info.stream_id

    def receive(self, delta: Delta) -> Delta:
        """Normalise a model's piece once (docs/protocol.md#one-bad-reply); what it returns is what is kept."""
        return Delta(self._normal_text.feed(delta.text), self._normal_reasoning.feed(delta.reasoning))

    def flush(self) -> Delta:
        """What the normalisers still hold when the model is done."""
        return Delta(self._normal_text.flush(), self._normal_reasoning.flush())

    def start_from(self, content: str, reasoning: str) -> None:
        """Continue a reply: its earlier text is kept first, as already saved."""
        self.keep(Delta(content, reasoning))
        self.continued, self.dirty = True, False

    def keep_silently(self, content: str, reasoning: str) -> None:
        """A run continued on its own stream: the text it had is already there and saved."""
        self.keep(Delta(content, reasoning))
        self.dirty = False

    def keep(self, delta: Delta) -> None:
        """Add a piece the stream accepted to the text to commit."""
        if delta.text:
            self._text.append(delta.text)
        if delta.reasoning:
            self._reasoning.append(delta.reasoning)
        self.dirty = True

    def content(self) -> tuple[str, str]:
        """The text so far, compacting the pieces so joins stay cheap."""
        if len(self._text) > 1:
            self._text[:] = ["".join(self._text)]
        if len(self._reasoning) > 1:
            self._reasoning[:] = ["".join(self._reasoning)]
        return (self._text[0] if self._text else "", self._reasoning[0] if self._reasoning else "")

    def ending(self, status: MessageStatus, error: dict[str, str] | None) -> Ending:
        content, reasoning = self.content()
        return Ending(
            self.info,
            self.message.replace(
                content=content,
                reasoning=reasoning,
                status=status,
                error=error,
                usage=self.usage,
                window=self.window,
                parts=self.run.parts(content, reasoning) if self.run is not None else [],
            ),
        )

    def stop(self, status: MessageStatus, error: dict[str, str] | None = None) -> None:
        """Ask the job to end with ``status``; the first reason wins, but every call
        cancels again (a cancel that lands inside redis-py can be swallowed)."""
        if self.state in (JobState.CONCLUDING, JobState.DONE):
            return
        if self.stop_status is None:
            self.stop_status, self.stop_error = status, error
        if self.state is JobState.GENERATING and self.task is not None:
            self.task.cancel()  # a PENDING job checks stop_status when it starts


class Subscription:
    """One reader of one stream; counted while open.  Reads go through the
    stream's ``Feed``, shared with the other readers on this server."""

    def __init__(self, feed: Feed) -> None:
        self.stream_id = feed.stream_id
        self._feed = feed

    async def read(self, last_id: int | None, timeout: float) -> Chunk:
        """The next batch after ``last_id`` (see ``StreamStore.read_after``), with its SSE bytes."""
        return await self._feed.read(last_id, timeout)

    async def follow(self, last_id: int | None, timeout: float) -> AsyncGenerator[Chunk, None]:
        """Replay, then live: the batch after ``last_id`` at once, then each next one as
        it comes (an empty one when ``timeout`` s pass with nothing new: time for a
        keepalive), ending with the batch that is ``done``.  The one read loop: both
        event-stream endpoints and the manager waiting for a final read so."""
        batch = await self.read(last_id, 0)
        while True:
            yield batch
            if batch.done:
                return
            if batch.events:
                last_id = batch.events[-1].id
            batch = await self.read(last_id, timeout)


def with_context(message: Message) -> str:
    """A user message as the model reads it: each attached item in a tagged
    block before the text, so the model sees where the context ends.

    An item is untrusted (a downloaded file, a web page in an output, a
    traceback quoting input), so it cannot end its block early: its name is
    an escaped attribute and any ``<context``/``</context`` tag in its content
    (whatever its case or spacing) has its ``<`` escaped, so the only closing
    tag the model reads is the one written here."""
    if not message.context:
        return message.content
    blocks = [
        f'<context kind="{_attribute(item.kind)}" name="{_attribute(item.name)}">\n'
        f"{_CONTEXT_TAG.sub('&lt;', item.content)}\n</context>"
        for item in message.context
    ]
    return "\n\n".join([*blocks, message.content])


# the "<" of anything a model could take for a context tag: </context>, < / CONTEXT,
# and the same with a full-width or small "<" (＜ ﹤) that reads alike
_CONTEXT_TAG = re.compile(r"[<\uff1c\ufe64](?=\s*[/\uff0f]?\s*context)", re.IGNORECASE)
_ATTRIBUTE = str.maketrans({"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;", "\n": " ", "\r": " "})


def _attribute(value: str) -> str:
    """``value`` as a double-quoted attribute: it cannot close the quote or the tag."""
    return value.translate(_ATTRIBUTE)
