"""Anthropic provider through the official ``anthropic`` SDK (optional extra)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..errors import ProviderError, ProviderTimeout
from ..models import ModelInfo, Usage
from .base import ChatTurn, Delta, silence_tolerant

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

    async def stream(self, model: str, turns: list[ChatTurn]) -> AsyncIterator[Delta]:
        sdk = self._sdk
        messages: Any = [{"role": t.role, "content": t.content} for t in turns if t.content]
        try:
            async with self.client.messages.stream(
                model=model, max_tokens=self.max_tokens, messages=messages
            ) as stream:
                tokens = _Tokens()
                async for event in stream:
                    delta = _delta(event) or tokens.take(event)
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
