"""The model API key never reaches a client (issue 26).

A model endpoint (or a gateway in front of it) that echoes the request's
``Authorization`` / ``x-api-key`` header in its error body must not put the
server's key in the ``final`` event, in ``GET messages``, in the database or in
the extension's log, for each provider and each kind of failure.  The same
for the health answer of a misconfigured server.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.echo_endpoint import ECHO_MODELS, EchoEndpoint

KEY = "sk-live-operator-9f8e7d6c5b4a3210"
CASES = [(api, model) for api, models in ECHO_MODELS.items() for model in models]


@pytest.fixture
def echo(jp_asyncio_loop: Any) -> Iterator[EchoEndpoint]:
    endpoint = EchoEndpoint()
    yield endpoint
    endpoint.stop()


@pytest.fixture(params=list(ECHO_MODELS))
def provider(request: Any) -> str:
    return str(request.param)


@pytest.fixture
def resumechat_config(resumechat_config: dict[str, Any], echo: EchoEndpoint, provider: str) -> dict[str, Any]:
    return {
        **resumechat_config,
        "provider": provider,
        "base_url": echo.url(provider),
        "api_key": KEY,
        "model": ECHO_MODELS[provider][0],
        "models": ECHO_MODELS[provider],
        "provider_max_retries": 0,
    }


def database_row(db_url: str, message_id: str) -> str:
    conn = sqlite3.connect(db_url.split("///", 1)[1], timeout=10)
    try:
        row = conn.execute("SELECT * FROM resumechat_messages WHERE id = ?", (message_id,)).fetchone()
    finally:
        conn.close()
    return repr(row)


async def test_an_endpoint_that_echoes_the_key_leaks_it_nowhere(
    api: Any, provider: str, resumechat_config: dict[str, Any], caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG, logger="jupyter_resumechat")
    conv = await api.conversation()
    for model in ECHO_MODELS[provider]:
        sent = await api.send(conv["id"], f"hello {model}", model=model)
        final = await api.wait_final(sent["stream_id"])
        assert final["status"] == "error", final
        assert final["error"]["type"] in ("upstream_status", "upstream_protocol"), final
        if model != "echo-stream":  # the status stays named: only the secret goes
            assert f"answered {model[-3:]}" in final["error"]["detail"], final
        assert KEY not in json.dumps(final), (model, final)
        row = database_row(resumechat_config["db_url"], sent["assistant_message"]["id"])
        assert "error" in row and KEY not in row, (model, row)
    listed = (await api.messages(conv["id"]))[1::2]
    assert [m["status"] for m in listed] == ["error"] * len(ECHO_MODELS[provider])
    assert KEY not in json.dumps(listed)
    assert KEY not in caplog.text


@pytest.mark.parametrize("provider", ["openai"], indirect=True)
async def test_health_names_what_is_down_without_its_password(
    api: Any, resumechat_config: dict[str, Any], caplog: Any, jp_serverapp: Any
) -> None:
    """A Redis whose URL carries a password and that is down: health says so, not the password."""
    caplog.set_level(logging.DEBUG)
    answer = await api.request("GET", "health")
    assert answer.status_code in (200, 503)
    assert KEY not in answer.text and "redis-pass-12345678" not in answer.text
    assert "redis-pass-12345678" not in caplog.text and KEY not in caplog.text


@pytest.fixture
def backend(request: Any, tmp_path: Any) -> dict[str, Any]:
    """SQLite, and for the health case a Redis with a password that is not running."""
    found = {"db_url": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"}
    if "health" in request.node.name:
        found["stream_backend"] = "redis://:redis-pass-12345678@127.0.0.1:1/0"
    return found
