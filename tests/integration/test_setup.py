"""Setup that explains itself (issue 16), through real server processes.

Plain database URLs work; a configuration that cannot start logs one ERROR
line naming the trait and the fix, and every endpoint (the event stream too)
answers 503 ``unavailable`` with that text (docs/protocol.md#named-failures); no traceback, no
follow-on error, the server keeps running.  ``GET health`` answers within a
bounded time whatever the stores do; JSON lists work on the command line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_fault_servers import wait_for
from tests.support.openapi import check_answer
from tests.support.redis_server import RedisServer, running_redis
from tests.support.server_process import ServerProcess, free_port
from tests.support.services import REDIS_URL

ENDPOINTS = [
    ("GET", "conversations"),
    ("POST", "conversations"),
    ("GET", "conversations/c1"),
    ("PATCH", "conversations/c1"),
    ("DELETE", "conversations/c1"),
    ("GET", "conversations/c1/messages"),
    ("POST", "conversations/c1/messages"),
    ("GET", "conversations/c1/stream"),
    ("GET", "streams/s1/events"),
    ("POST", "streams/s1/abort"),
    ("GET", "models"),
    ("GET", "health"),
]
BODIES = {"POST": {"content": "hello", "title": "t"}, "PATCH": {"title": "t"}}


@contextmanager
def server(tmp_path: Path, **kwargs: Any) -> Iterator[ServerProcess]:
    """A started server (ready once GET models answers 200 or 503), stopped on the way out."""
    with ServerProcess(tmp_path / "server", ready=(200, 503), **kwargs) as started:
        yield started


def call(client: httpx.Client, server: ServerProcess, method: str, path: str) -> httpx.Response:
    """One request, its answer checked against the OpenAPI document."""
    answer = client.request(method, server.url(path), json=BODIES.get(method))
    check_answer(method, path, answer.status_code, answer.content, answer.headers.get("content-type", ""))
    return answer


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("[E ")]


def assert_named_503(server: ServerProcess, trait: str, *fix: str) -> str:
    """Every endpoint answers 503 naming ``trait`` (and ``fix``); the log has one
    ERROR line saying the same, and no traceback.  Returns the detail."""
    name = f"ResumeChat.{trait}"
    wait_for(
        server.read_log, lambda log: any(name in line for line in error_lines(log)), 30, "the ERROR line"
    )
    details = set()
    with httpx.Client(headers=server.headers, timeout=30) as client:
        for method, path in ENDPOINTS:
            answer = call(client, server, method, path)
            assert answer.status_code == 503, f"{method} {path}: {answer.status_code} {answer.text:.300}"
            body = answer.json()
            assert body["error"] == "unavailable", body
            assert name in body["detail"] and all(f in body["detail"] for f in fix), body
            details.add(body["detail"])
    log = server.read_log()
    errors = error_lines(log)
    assert len(errors) == 1 and name in errors[0] and all(f in errors[0] for f in fix), "\n".join(errors)
    assert "Traceback" not in log and "AttributeError" not in log, log[-3000:]
    assert server.proc is not None and server.proc.poll() is None, "the server stopped"
    assert len(details) == 1, details
    return details.pop()


def chat_works(server: ServerProcess) -> None:
    """A conversation, a reply from the demo model, read back."""
    with httpx.Client(headers=server.headers, timeout=30) as client:
        cid = call(client, server, "POST", "conversations").json()["id"]
        sent = client.post(server.url(f"conversations/{cid}/messages"), json={"content": "hello"})
        assert sent.status_code == 202, sent.text
        reply_id = sent.json()["assistant_message"]["id"]

        def reply() -> dict[str, Any]:
            found = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"]
            return next(m for m in found if m["id"] == reply_id)

        done = wait_for(reply, lambda m: m["status"] != "streaming", 30, "the demo reply")
        assert done["status"] == "complete" and done["content"], done
    assert not error_lines(server.read_log())


# plain URLs work


def test_a_plain_sqlite_url_works(tmp_path: Path) -> None:
    with server(tmp_path, db_url=f"sqlite:///{tmp_path / 'plain.db'}", demo_delay=0.001) as started:
        chat_works(started)
    assert (tmp_path / "plain.db").exists()


def test_a_plain_postgresql_url_works(tmp_path: Path, postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    with server(tmp_path, db_url=plain, demo_delay=0.001) as started:
        chat_works(started)


# what cannot start is named, once


def test_a_sync_driver_without_an_async_counterpart_is_named(tmp_path: Path) -> None:
    with server(tmp_path, db_url=f"sqlite+pysqlcipher:///{tmp_path / 'x.db'}") as started:
        detail = assert_named_503(started, "db_url", "'pysqlcipher' is synchronous", "sqlite:///")
    assert "pysqlcipher" in detail


def test_an_unknown_stream_backend_is_named(tmp_path: Path) -> None:
    with server(tmp_path, stream_backend="kafka://broker:9092") as started:
        assert_named_503(started, "stream_backend", "'kafka://broker:9092'", "redis://")


def test_a_missing_redis_extra_is_named_with_the_pip_command(tmp_path: Path) -> None:
    shadow = tmp_path / "no-redis" / "redis"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'redis' (simulated)\")\n")
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH", "")]))
    with server(tmp_path, env={"PYTHONPATH": path}, stream_backend="redis://127.0.0.1:6379/0") as started:
        assert_named_503(started, "stream_backend", 'pip install "jupyter-resumechat[redis]"')


def test_an_unreachable_database_at_start_is_named_and_retried(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    with server(tmp_path, db_url=url) as started:
        detail = assert_named_503(started, "db_url", "the database is unavailable", "start the database")
    assert "127.0.0.1" in detail


def test_a_bad_number_is_named_and_the_rest_of_the_configuration_still_loads(tmp_path: Path) -> None:
    with server(tmp_path, stream_ttl=-5, provider="demo") as started:
        assert_named_503(started, "stream_ttl", "must be >= 0")
        with httpx.Client(headers=started.headers, timeout=30) as client:
            assert call(client, started, "GET", "health").json()["provider"] == "demo"


# command-line lists


@pytest.mark.parametrize(
    "flags",
    [
        ['--ResumeChat.models=["m-a", "m-b"]'],
        ["--ResumeChat.models=m-a", "--ResumeChat.models=m-b"],
    ],
    ids=["json-list", "repeated-flag"],
)
def test_a_list_trait_on_the_command_line(tmp_path: Path, flags: list[str]) -> None:
    fixed = {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "k", "model": "m-0"}
    with server(tmp_path, extra=flags, **fixed) as started, httpx.Client(headers=started.headers) as client:
        models = call(client, started, "GET", "models").json()
    assert [m["id"] for m in models["models"]] == ["m-0", "m-a", "m-b"]


# GET health


def health(started: ServerProcess) -> httpx.Response:
    with httpx.Client(headers=started.headers, timeout=30) as client:
        return call(client, started, "GET", "health")


def assert_healthy(answer: httpx.Response, messages: str, streams: str) -> None:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is True and "error" not in body, body
    assert body["provider"] == "demo" and body["model"] == "demo", body
    assert (
        body["stores"]["messages"]["backend"] == messages and body["stores"]["streams"]["backend"] == streams
    )
    assert all(s["ok"] and s["latency_ms"] >= 0 for s in body["stores"].values()), body
    assert (body["jobs"], body["readers"]) == (0, 0), body
    assert body["instance"]["id"] and body["instance"]["lease_until"], body


def test_health_on_memory_and_sqlite(tmp_path: Path) -> None:
    with server(tmp_path, db_url=f"sqlite:///{tmp_path / 'h.db'}") as started:
        assert_healthy(health(started), "sqlite", "memory")


def test_health_on_redis_and_postgresql(tmp_path: Path, postgres_url: str, redis_prefix: str) -> None:
    with server(
        tmp_path, db_url=postgres_url, stream_backend=REDIS_URL, redis_prefix=redis_prefix
    ) as started:
        assert_healthy(health(started), "postgresql", "redis")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as redis_server:
        yield redis_server


@pytest.mark.parametrize("how", ["killed", "frozen"])
def test_health_with_redis_stopped_answers_503_in_bounded_time(
    tmp_path: Path, private_redis: RedisServer, how: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    with server(tmp_path, db_url=db_url, stream_backend=private_redis.url) as started:
        assert_healthy(health(started), "sqlite", "redis")
        private_redis.kill() if how == "killed" else private_redis.pause()
        began = time.monotonic()
        answer = health(started)
        took = time.monotonic() - began
        assert took < 10, f"health took {took:.1f} s with Redis {how}"
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["error"] == "unavailable" and "streams (redis)" in body["detail"], body
        assert body["stores"]["messages"]["ok"] is True and body["stores"]["streams"]["ok"] is False, body
        private_redis.resume()
