"""The Provider protocol: a model endpoint that streams a reply in pieces.

A provider turns the conversation so far into an async iterator of deltas.
It must stop promptly when the consuming task is cancelled (abort, shutdown)
and raise ``ProviderError`` (or let the job map an unexpected exception) when
the endpoint fails; the job keeps whatever text arrived before the failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..models import ModelInfo, Usage

_T = TypeVar("_T")

__all__ = [
    "CONTINUE_PROMPT",
    "CallDelta",
    "ChatTurn",
    "Delta",
    "MadeCall",
    "Provider",
    "ToolOffer",
    "silence_tolerant",
]


CONTINUE_PROMPT = (
    "Your previous reply was cut off. Continue it from exactly where it stopped, "
    "without repeating any of it and without any preamble."
)
"""The hidden last turn of a ``continue`` (docs/protocol.md#send): after the reply so far,
so every chat API (OpenAI-compatible or Anthropic) extends it the same way."""


@dataclass(frozen=True)
class ToolOffer:
    """A tool as the model is offered it: its name, what it does, its JSON Schema."""

    name: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class MadeCall:
    """A call the model made in an earlier round, sent back so its result can follow."""

    provider_id: str  # the model's own id for the call (made up when it gave none)
    name: str
    arguments: str  # the JSON text as the model wrote it


@dataclass(frozen=True)
class ChatTurn:
    """One earlier message sent to the model as context.

    An agent run adds two shapes: the model's turn with the ``calls`` it made,
    and a ``tool`` turn holding one call's result (``call_id`` names the call).
    """

    role: str  # "user" | "assistant" | "tool"
    content: str
    calls: tuple[MadeCall, ...] = ()
    call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class CallDelta:
    """A piece of a tool call as the model forms it: the call's id and name on its first piece
    (``started``), then more of its arguments' JSON text."""

    provider_id: str
    name: str
    arguments: str = ""
    started: bool = False


@dataclass(frozen=True)
class Delta:
    """A piece of the reply: visible text or reasoning ("thinking") text, a piece of a tool
    call, or the tokens the reply has cost so far as the endpoint reports them (``usage``)."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None
    call: CallDelta | None = field(default=None)


class Provider(Protocol):
    """A source of streamed replies."""

    name: str
    default_model: str

    def models(self) -> list[ModelInfo]:
        """The models this provider offers, default first."""

    def stream(
        self, model: str, turns: list[ChatTurn], tools: Sequence[ToolOffer] = ()
    ) -> AsyncIterator[Delta]:
        """Stream the reply to ``turns`` (oldest first), offering ``tools`` (none: a plain reply)."""

    async def close(self) -> None:
        """Release connections."""


def silence_tolerant(timeout_type: Callable[..., _T], timeout: float) -> _T:
    """Connect and write time out as configured; reading never does in the SDK.

    The model's silence is timed by the job's supervisor instead, which does
    not count a pause of the whole process (laptop sleep, VM pause) as
    silence: after such a pause the SDK's own read timer would fire although
    the data was waiting in the socket.  ``timeout_type`` is the SDK's own
    ``Timeout`` (the SDKs may run on an httpx fork).
    """
    return timeout_type(timeout, read=None)
