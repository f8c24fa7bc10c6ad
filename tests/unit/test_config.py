"""The extension's configuration: each trait validated, a bad one refused alone,
JSON lists on the command line (issue 16)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_resumechat.app import ResumeChat


def chat(**traits: object) -> ResumeChat:
    return ResumeChat(config=Config({"ResumeChat": traits}))


REFUSED = [
    ("stream_ttl", -1, "must be >= 0 seconds"),
    ("replay_window", 0, "must be >= 1"),
    ("max_active_per_user", -2, "must be >= 0"),
    ("provider", "gpt", "'gpt' is not a provider"),
    ("stream_backend", "kafka://k", "use 'memory' or redis://"),
    ("db_url", "mysql://h/db", "'mysql' is not supported"),
    ("db_url", "sqlite+pysqlcipher:///x.db", "'pysqlcipher' is synchronous"),
    ("base_url", "localhost:11434", "not an http:// or https:// URL"),
    ("models", ["a", " "], "must not be empty"),
]


@pytest.mark.parametrize(("name", "value", "says"), REFUSED)
def test_a_bad_value_is_refused_alone_and_named(name: str, value: object, says: str) -> None:
    loaded = chat(**{name: value}, provider_timeout=7.0) if name != "provider" else chat(provider=value)
    problem = loaded.config_problems[name]
    assert problem.startswith(f"ResumeChat.{name}: ") and says in problem, problem
    assert list(loaded.config_problems) == [name]
    if name != "provider":
        assert loaded.provider_timeout == 7.0  # the rest of the configuration still loads


def test_plain_database_urls_become_async() -> None:
    assert chat(db_url="sqlite:///x.db").db_url == "sqlite+aiosqlite:///x.db"
    assert chat(db_url="postgres://u@h/db").db_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (['--ResumeChat.models=["a", "b"]'], ["a", "b"]),
        (["--ResumeChat.models=a", "--ResumeChat.models=b"], ["a", "b"]),
        (["--ResumeChat.models=a"], ["a"]),
        (["--ResumeChat.models=[]"], []),
    ],
)
def test_a_list_on_the_command_line(argv: list[str], expected: list[str]) -> None:
    app = ResumeChat()
    app.parse_command_line(argv)
    assert app.models == expected and not app.config_problems


def test_json_list_from_a_deferred_string() -> None:
    """What the server's own parser hands over for a class it does not know."""
    trait = ResumeChat.class_traits()["models"]
    assert trait.from_string('["a","b"]') == ["a", "b"]
    assert trait.from_string("a") == ["a"]
