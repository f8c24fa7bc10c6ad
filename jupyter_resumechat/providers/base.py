"""The Provider protocol: a model endpoint that streams a reply in pieces.

A provider turns the conversation so far into an async iterator of deltas.
It must stop promptly when the consuming task is cancelled (abort, shutdown)
and raise ``ProviderError`` (or let the job map an unexpected exception) when
the endpoint fails; the job keeps whatever text arrived before the failure.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..models import ModelInfo, Usage

_T = TypeVar("_T")

__all__ = ["CONTINUE_PROMPT", "ChatTurn", "Delta", "Provider", "silence_tolerant"]


CONTINUE_PROMPT = (
    "Your previous reply was cut off. Continue it from exactly where it stopped, "
    "without repeating any of it and without any preamble."
)
"""The hidden last turn of a ``continue`` (DESIGN §3): after the reply so far,
so every chat API (OpenAI-compatible or Anthropic) extends it the same way."""


@dataclass(frozen=True)
class ChatTurn:
    """One earlier message sent to the model as context."""

    role: str  # "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Delta:
    """A piece of the reply: visible text or reasoning ("thinking") text, or the
    tokens the reply has cost so far as the endpoint reports them (``usage``)."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None


class Provider(Protocol):
    """A source of streamed replies."""

    name: str
    default_model: str

    def models(self) -> list[ModelInfo]:
        """The models this provider offers, default first."""

    def stream(self, model: str, turns: list[ChatTurn]) -> AsyncIterator[Delta]:
        """Stream the reply to ``turns`` (oldest first, the last one the user's)."""

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
