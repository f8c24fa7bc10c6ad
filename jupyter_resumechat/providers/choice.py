"""Which provider to run, from the configuration and the environment.

A pure function of its inputs: the app passes ``os.environ`` in, so the
choice is testable with a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .base import Provider

__all__ = ["ProviderSettings", "choose_provider", "make_provider"]

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "demo": "demo"}


@dataclass(frozen=True)
class ProviderSettings:
    """Everything needed to build a provider; empty strings mean "not set"."""

    provider: str = "auto"
    model: str = ""
    base_url: str = ""
    api_key: str = ""
    timeout: float = 60.0
    max_retries: int = 2
    demo_delay: float = 0.02
    extra_models: list[str] = field(default_factory=list)


def choose_provider(settings: ProviderSettings, env: Mapping[str, str]) -> ProviderSettings:
    """Resolve ``auto`` and fill endpoint, key and model from ``env``.

    ``auto`` picks ``openai`` when an OpenAI key or base URL is configured or
    in the environment, else ``anthropic`` when an Anthropic key is, else ``demo``.
    """
    name = settings.provider
    if name == "auto":
        if settings.api_key or settings.base_url or env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL"):
            name = "openai"
        elif env.get("ANTHROPIC_API_KEY"):
            name = "anthropic"
        else:
            name = "demo"
    prefix = {"openai": "OPENAI", "anthropic": "ANTHROPIC"}.get(name)
    base_url, api_key = settings.base_url, settings.api_key
    if prefix:
        base_url = base_url or env.get(f"{prefix}_BASE_URL", "")
        api_key = api_key or env.get(f"{prefix}_API_KEY", "")
    return ProviderSettings(
        provider=name,
        model=settings.model or DEFAULT_MODELS[name],
        base_url=base_url,
        api_key=api_key,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        demo_delay=settings.demo_delay,
        extra_models=list(settings.extra_models),
    )


def make_provider(settings: ProviderSettings) -> Provider:
    """Build the provider that resolved ``settings`` name."""
    common = dict(
        model=settings.model,
        base_url=settings.base_url or None,
        api_key=settings.api_key or None,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        extra_models=settings.extra_models,
    )
    if settings.provider == "openai":
        from .openai import OpenAIProvider

        return OpenAIProvider(**common)  # type: ignore[arg-type]
    if settings.provider == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(**common)  # type: ignore[arg-type]
    if settings.provider == "demo":
        from .demo import DemoProvider

        return DemoProvider(delay=settings.demo_delay)
    raise ValueError(f"unknown provider {settings.provider!r}")
