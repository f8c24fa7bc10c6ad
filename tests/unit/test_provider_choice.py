"""Which provider ``auto`` picks, from configuration and environment."""

import pytest

from jupyter_resumechat.providers import ProviderSettings, choose_provider


@pytest.mark.parametrize(
    ("settings", "env", "expected"),
    [
        (ProviderSettings(), {}, ("demo", "demo", "", "")),
        (ProviderSettings(), {"OPENAI_API_KEY": "k"}, ("openai", "gpt-4o-mini", "", "k")),
        (
            ProviderSettings(),
            {"OPENAI_BASE_URL": "http://localhost:11434/v1"},
            ("openai", "gpt-4o-mini", "http://localhost:11434/v1", ""),
        ),
        (ProviderSettings(), {"ANTHROPIC_API_KEY": "a"}, ("anthropic", "claude-sonnet-4-5", "", "a")),
        (
            ProviderSettings(),
            {"ANTHROPIC_API_KEY": "a", "OPENAI_API_KEY": "o"},
            ("openai", "gpt-4o-mini", "", "o"),
        ),
        (
            ProviderSettings(base_url="http://x/v1", model="llama3"),
            {},
            ("openai", "llama3", "http://x/v1", ""),
        ),
        (ProviderSettings(provider="demo"), {"OPENAI_API_KEY": "k"}, ("demo", "demo", "", "")),
        (
            ProviderSettings(provider="openai", api_key="cfg"),
            {"OPENAI_API_KEY": "env"},
            ("openai", "gpt-4o-mini", "", "cfg"),
        ),
    ],
)
def test_choice(settings, env, expected) -> None:
    chosen = choose_provider(settings, env)
    assert (chosen.provider, chosen.model, chosen.base_url, chosen.api_key) == expected
