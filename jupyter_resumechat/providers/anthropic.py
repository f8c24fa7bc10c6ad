"""Anthropic provider through the official ``anthropic`` SDK (optional extra).

Offered tools go as ``tools``; ``tool_use`` blocks stream their input as
``input_json_delta`` pieces. Earlier calls go back as ``tool_use`` blocks of
the model's turn and their results as ``tool_result`` blocks of one user turn,
which the Messages API requires to follow that turn directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..errors import ProviderError, ProviderTimeout
from ..models import ModelInfo, Usage
from .base import CallDelta, ChatTurn, Delta, ToolOffer, silence_tolerant
from .toolcalls import ToolCallAssembler

__all__ = ["AnthropicProvider"]


class AnthropicProvider:
    """Streams from the Messages API; thinking deltas become reasoning."""

    name = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        max_tokens: int = 4096,
        extra_models: list[str] | None = None,
    ) -> None:
        try:
            import anthropic
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "provider 'anthropic' needs the extra: pip install 'jupyter-resumechat[anthropic]'"
            ) from exc
        self._sdk = anthropic
        self.default_model = model
        self.max_tokens = max_tokens
        self.extra_models = [m for m in extra_models or [] if m != model]
        self.client = anthropic.AsyncAnthropic(
            base_url=base_url or None,
            api_key=api_key,
            timeout=silence_tolerant(anthropic.Timeout, timeout),
            max_retries=max_retries,
        )

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(m, self.name, m) for m in [self.default_model, *self.extra_models]]

    async def stream(
        self, model: str, turns: list[ChatTurn], tools: Sequence[ToolOffer] = ()
    ) -> AsyncIterator[Delta]:
        sdk = self._sdk
        offered: Any = (
            {
                "tools": [
                    {"name": t.name, "description": t.description, "input_schema": dict(t.schema)}
                    for t in tools
                ]
            }
            if tools
            else {}
        )
        calls = ToolCallAssembler()
        try:
            async with self.client.messages.stream(
                model=model, max_tokens=self.max_tokens, messages=_messages(turns), **offered
            ) as stream:
                tokens = _Tokens()
                async for event in stream:
                    delta = _delta(event) or _call_piece(calls, event) or tokens.take(event)
                    if delta is not None:
                        yield delta
        except sdk.APITimeoutError as exc:
            raise ProviderTimeout(f"the model endpoint timed out: {exc}") from exc
        except sdk.APIStatusError as exc:
            raise ProviderError(
                f"the model endpoint answered {exc.status_code}: {exc.message}",
                type="upstream_status",
            ) from exc
        except sdk.APIConnectionError as exc:
            raise ProviderError(
                f"the connection to the model endpoint failed: {exc}", type="connection"
            ) from exc
        except sdk.AnthropicError as exc:
            raise ProviderError(
                f"the model endpoint sent something unexpected: {exc}", type="upstream_protocol"
            ) from exc

    async def close(self) -> None:
        await self.client.close()


def _messages(turns: list[ChatTurn]) -> Any:
    """The turns in the Messages API's shape; the results of one round merged into one user turn."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        role, content = _content(turn)
        if not content:
            continue
        if messages and messages[-1]["role"] == role and isinstance(content, list):
            if isinstance(messages[-1]["content"], list):
                messages[-1]["content"].extend(content)
                continue
        messages.append({"role": role, "content": content})
    return messages


def _content(turn: ChatTurn) -> tuple[str, str | list[dict[str, Any]]]:
    """Plain text for a plain turn; content blocks for calls and their results."""
    if turn.role == "tool":
        result = {"type": "tool_result", "tool_use_id": turn.call_id, "content": turn.content}
        return "user", [{**result, "is_error": True} if turn.is_error else result]
    if not turn.calls:
        return turn.role, turn.content
    blocks: list[dict[str, Any]] = [{"type": "text", "text": turn.content}] if turn.content else []
    for call in turn.calls:
        blocks.append(
            {"type": "tool_use", "id": call.provider_id, "name": call.name, "input": _input(call.arguments)}
        )
    return turn.role, blocks


def _input(arguments: str) -> Any:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}  # a call whose arguments did not parse was never run; its error result says so
    return value if isinstance(value, dict) else {}


def _call_piece(calls: ToolCallAssembler, event: Any) -> Delta | None:
    kind = getattr(event, "type", None)
    if kind == "content_block_start" and getattr(event.content_block, "type", None) == "tool_use":
        block = event.content_block
        call = calls.anthropic_start(event.index, block.id, block.name)
        return Delta(call=CallDelta(call.provider_id, call.name, "", started=True))
    if kind == "content_block_delta" and getattr(event.delta, "type", None) == "input_json_delta":
        found = calls.anthropic_delta(event.index, event.delta.partial_json)
        if found is not None:
            call, added = found
            return Delta(call=CallDelta(call.provider_id, call.name, added))
    return None


def _delta(event: Any) -> Delta | None:
    if getattr(event, "type", None) != "content_block_delta":
        return None
    delta = event.delta
    if delta.type == "text_delta":
        return Delta(text=delta.text)
    if delta.type == "thinking_delta":
        return Delta(reasoning=delta.thinking)
    return None


class _Tokens:
    """The reply's usage: input from ``message_start``, output (cumulative) from
    each ``message_delta``."""

    def __init__(self) -> None:
        self.input = 0

    def take(self, event: Any) -> Delta | None:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            usage = getattr(getattr(event, "message", None), "usage", None)
            self.input = int(getattr(usage, "input_tokens", 0) or 0)
            return None
        if kind == "message_delta":
            output = getattr(getattr(event, "usage", None), "output_tokens", None)
            if isinstance(output, int):
                return Delta(usage=Usage(self.input, output))
        return None
