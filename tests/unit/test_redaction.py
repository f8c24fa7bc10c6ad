"""The one function every outgoing text passes removes secrets and nothing else."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from jupyter_resumechat.redaction import RedactingFilter, Redactor, redactor_for

KEY = "sk-live-operator-9f8e7d6c5b4a3210"

LEAKS = {
    "echoed bearer": f"Error code: 401 - proxy refused credentials Bearer {KEY}",
    "bearer of a key we do not know": "refused: bearer abcdefghijklmnop.qrstuv-wx",
    "x-api-key header": "invalid x-api-key: ant-unknown-key-000111222",
    "json header dump": '{"Authorization": "Bearer tok_123456789", "api_key": "zzzzzzzzzz"}',
    "python repr of headers": "{'x-api-key': 'opaque-value-424242', 'password': 'hunter2hunter2'}",
    "query parameter": "GET /v1/models?api_key=abcdef123456&x=1 failed",
    "jupyter token": "http://127.0.0.1:8888/lab?token=0123456789abcdef",
    "vendor-shaped key": "the key sk-ant-api03-AAAABBBBCCCCDDDD was refused",
    "url password": "could not connect to postgresql+asyncpg://alice:s3cr3t-pw@db:5432/chat",
    "url token": "clone https://ghp_abcdefghijklmnopqrstuvwxyz@github.com/x/y failed",
    "basic auth": "Authorization header was Basic YWxpY2U6czNjcjN0LXB3MQ==",
}
SECRETS = {
    "echoed bearer": KEY,
    "bearer of a key we do not know": "abcdefghijklmnop",
    "x-api-key header": "ant-unknown-key",
    "json header dump": "zzzzzzzzzz",
    "python repr of headers": "opaque-value",
    "query parameter": "abcdef123456",
    "jupyter token": "0123456789abcdef",
    "vendor-shaped key": "AAAABBBBCCCCDDDD",
    "url password": "s3cr3t-pw",
    "url token": "ghp_abcdefghij",
    "basic auth": "YWxpY2U6czNjcjN0LXB3MQ",
}
HARMLESS = [
    "the model endpoint answered 404: model 'gpt-4o' not found",
    "max_tokens=4096 and input_tokens: 12, a token budget of 16384",
    "password authentication failed for user alice",
    "Basic usage: see https://example.com/docs and postgresql://alice@db/chat",
    "the connection to the model endpoint failed: [Errno 111] Connection refused",
    "",
]


@pytest.mark.parametrize("case", list(LEAKS))
def test_every_shape_of_credential_is_removed(case: str) -> None:
    shown = Redactor([KEY])(LEAKS[case])
    assert SECRETS[case] not in shown and "***" in shown, shown


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert Redactor([KEY, "short"])(text) == text


def test_a_configured_value_goes_in_any_form_and_the_hook_adds_more() -> None:
    """MCP servers' env values (a later issue) come through ``add``."""
    redact = Redactor([KEY])
    mcp_value = "ghx/opaque+value=with?chars"
    assert mcp_value in redact(f"server said {mcp_value}")
    redact.add(mcp_value, "tiny")  # too short to be masked without harming text
    for text in (f"server said {mcp_value}", f"echo {quote(mcp_value, safe='')}", f"{KEY}{KEY}"):
        assert mcp_value not in redact(text) and quote(mcp_value, safe="") not in redact(text)
        assert KEY not in redact(text)
    assert redact("tiny things") == "tiny things"


def test_redactor_for_takes_keys_env_and_url_passwords() -> None:
    redact = redactor_for(
        ["configured-key-0001"],
        ["redis://:redis-pass-1234@host:6379/0", "postgresql://u:pg-pass-5678@db/x", "not a url"],
        {"ANTHROPIC_API_KEY": "env-anthropic-0002", "HOME": "/home/someone"},
    )
    text = "configured-key-0001 env-anthropic-0002 pg-pass-5678 redis-pass-1234 /home/someone"
    assert redact(text) == "*** *** *** *** /home/someone"


def test_json_values_are_redacted_keys_kept() -> None:
    body = {"detail": f"Bearer {KEY}", "stores": [{"detail": KEY, "ok": False}], "jobs": 2}
    assert Redactor([KEY]).json(body) == {
        "detail": "Bearer ***",
        "stores": [{"detail": "***", "ok": False}],
        "jobs": 2,
    }


def test_log_records_lose_the_secret_in_message_arguments_and_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("jupyter_resumechat.test_redaction")
    RedactingFilter(Redactor([KEY])).install()
    caplog.set_level(logging.INFO, logger="jupyter_resumechat")
    logger.info("calling with %s", f"Authorization: Bearer {KEY}")
    try:
        raise RuntimeError(f"gateway echoed {KEY}")
    except RuntimeError:
        logger.exception("generation %s failed", "s-1")
    assert KEY not in caplog.text and "generation s-1 failed" in caplog.text
    assert "RuntimeError: gateway echoed ***" in caplog.text
