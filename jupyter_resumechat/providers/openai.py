"""OpenAI-compatible provider through the official ``openai`` SDK.

Covers OpenAI itself and every server speaking its Chat Completions API:
Ollama, vLLM, llama.cpp server, LM Studio.  Reasoning text that such servers
send as ``reasoning_content`` or ``reasoning`` is streamed as reasoning.  The
reply's token counts are asked for (``stream_options.include_usage``) and
kept on the message when the endpoint sends them.  Offered tools go as
``tools`` (functions); streamed ``tool_calls`` pieces are assembled by
``toolcalls.ToolCallAssembler`` whatever the server's habits, and earlier
calls and their results go back as ``tool_calls`` / ``role: tool`` messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import openai

from ..errors import ProviderError, ProviderTimeout
from ..models import ModelInfo, Usage
from .base import CallDelta, ChatTurn, Delta, ToolOffer, silence_tolerant
from .toolcalls import ToolCallAssembler

__all__ = ["OpenAIProvider"]

try:  # recent SDKs run on the httpx2 fork; a cut stream raises its errors
    import httpx2

    _TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on the SDK version
    _TRANSPORT_ERRORS = (httpx.HTTPError,)
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (openai.APIConnectionError, *_TRANSPORT_ERRORS)


class OpenAIProvider:
    """Streams from ``{base_url}/chat/completions``."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        extra_models: list[str] | None = None,
    ) -> None:
        self.default_model = model
        self.extra_models = [m for m in extra_models or [] if m != model]
        self.client = openai.AsyncOpenAI(
            base_url=base_url or None,
            # Local servers (Ollama, vLLM…) accept any key; the SDK insists on one.
            api_key=api_key or "not-needed",
            timeout=silence_tolerant(openai.Timeout, timeout),
            max_retries=max_retries,
        )

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(m, self.name, m) for m in [self.default_model, *self.extra_models]]

    async def stream(
        self, model: str, turns: list[ChatTurn], tools: Sequence[ToolOffer] = ()
    ) -> AsyncIterator[Delta]:
        offered: Any = {"tools": [_function(tool) for tool in tools]} if tools else {}
        calls = ToolCallAssembler()
        finished = False
        try:
            response = await self.client.chat.completions.create(
                model=model,
                messages=_messages(turns),
                stream=True,
                stream_options={"include_usage": True},
                **offered,
            )
            try:
                async for chunk in response:
                    usage = _usage(chunk)
                    if usage is not None:
                        yield Delta(usage=usage)
                    for choice in _choices(chunk):
                        delta = _delta(choice.delta)
                        if delta is not None:
                            yield delta
                        for piece in _call_pieces(calls, choice.delta):
                            yield Delta(call=piece)
                        finished = finished or choice.finish_reason is not None
            finally:
                await response.close()
        except _MALFORMED as exc:  # a chunk that is not JSON, or not a chunk
            raise ProviderError(
                f"the model endpoint sent a malformed chunk: {type(exc).__name__}: {str(exc)[:200]}",
                type="upstream_protocol",
            ) from None
        except openai.APITimeoutError as exc:
            raise ProviderTimeout(f"the model endpoint timed out: {exc}") from exc
        except openai.APIStatusError as exc:
            raise ProviderError(_status_detail(exc), type="upstream_status") from exc
        except _CONNECTION_ERRORS as exc:
            raise ProviderError(
                f"the connection to the model endpoint failed: {exc}", type="connection"
            ) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(
                f"the model endpoint sent something unexpected: {exc}", type="upstream_protocol"
            ) from exc
        if not finished:
            raise ProviderError(
                "the model endpoint ended the stream before the reply was finished", type="incomplete"
            )

    async def close(self) -> None:
        await self.client.close()


_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)  # pydantic's errors are ValueErrors


def _choices(chunk: Any) -> list[Any]:
    choices = chunk.choices
    if not isinstance(choices, list):
        raise TypeError(f"'choices' is {type(choices).__name__}, not a list")
    return choices


def _usage(chunk: Any) -> Usage | None:
    """The last chunk's token counts (``stream_options.include_usage``), when sent."""
    usage = getattr(chunk, "usage", None)
    prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None


def _delta(delta: Any) -> Delta | None:
    if delta is None:
        return None
    extra = getattr(delta, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
    text = delta.content or ""
    if not isinstance(text, str):
        raise TypeError(f"'content' is {type(text).__name__}, not a string")
    if not text and not reasoning:
        return None
    return Delta(text=text, reasoning=reasoning if isinstance(reasoning, str) else "")


def _function(tool: ToolOffer) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": dict(tool.schema)},
    }


def _messages(turns: list[ChatTurn]) -> Any:
    """The turns in Chat Completions' shape: the model's calls as ``tool_calls``, results as ``tool``."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role == "tool":
            messages.append({"role": "tool", "tool_call_id": turn.call_id, "content": turn.content})
        elif turn.calls:
            made = [
                {
                    "id": c.provider_id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments or "{}"},
                }
                for c in turn.calls
            ]
            messages.append({"role": "assistant", "content": turn.content or None, "tool_calls": made})
        else:
            messages.append({"role": turn.role, "content": turn.content})
    return messages


def _call_pieces(calls: ToolCallAssembler, delta: Any) -> Iterator[CallDelta]:
    """The tool-call pieces in one chunk's delta, assembled across chunks."""
    for piece in getattr(delta, "tool_calls", None) or []:
        function = getattr(piece, "function", None)
        name = getattr(function, "name", None)
        arguments = getattr(function, "arguments", None)
        if not isinstance(arguments, str | None) or not isinstance(name, str | None):
            raise TypeError("a tool call's name and arguments must be strings")
        call, added = calls.openai(getattr(piece, "index", None), getattr(piece, "id", None), name, arguments)
        yield CallDelta(call.provider_id, call.name, added, started=call.pieces == 1)


def _status_detail(exc: openai.APIStatusError) -> str:
    return f"the model endpoint answered {exc.status_code}: {exc.message}"
