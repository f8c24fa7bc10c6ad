"""A private Redis restarted, down, or stalled; a server frozen: no reply is lost or contradicted.

docs/protocol.md#persist-before-announce (the ``final`` announces what the database holds), #bounded-loss (a job
that lost its lease writes nothing), docs/protocol.md#named-failures (a dependency that is down is a 503
naming it; history stays readable). Each test has a ``redis-server`` of its
own (tests/support/redis_server.py); the shared Redis is never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_fault_servers import (  # helpers only
    FAST,
    Cluster,
    Database,
    brief,
    clusters,
    create_conversation,
    final_of,
    message,
    messages,
    read_events,
    send,
    sqlite_url,
    stream_status,
    wait_for,
)
from tests.support.redis_server import RedisServer, running_redis
from tests.support.server_process import ServerProcess


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    with clusters(tmp_path) as make:
        yield make


def test_private_redis_restarts_on_the_same_port(private_redis: RedisServer) -> None:
    """The machinery the other tests rely on: a restart is a new, empty process on the
    same port; a paused one answers nothing until continued."""
    import redis

    def connect() -> Any:
        return redis.Redis.from_url(private_redis.url, socket_timeout=5)

    port, first = private_redis.port, private_redis.pid
    with connect() as client:
        client.set("k", "v")
    private_redis.restart()
    assert private_redis.port == port and private_redis.pid not in (None, first)
    assert private_redis.pids == [first, private_redis.pid]
    with connect() as client:
        assert client.get("k") is None  # nothing saved: a fresh Redis
    private_redis.kill()
    assert not private_redis.ping()
    private_redis.start()
    private_redis.pause()
    assert not private_redis.ping()
    private_redis.resume()
    assert private_redis.ping()
    with connect() as client:
        assert client.ping() and client.connection_pool.connection_kwargs["port"] == port


def complete_reply(
    client: httpx.Client, server: ServerProcess, cid: str, prompt: str, expected: str | None = None
) -> dict[str, Any]:
    """Send, read the stream to its final, check it against the database."""
    sent = send(client, server, cid, prompt)
    final = final_of(client, server, sent["stream_id"], timeout=30)
    assert final["status"] == "complete", f"the reply ended {brief(final)}: {final.get('error')}"
    if expected is not None:
        assert final["content"] == expected, brief(final)
    stored = message(client, server, cid, sent["assistant_message"]["id"])
    assert (stored["status"], stored["content"]) == ("complete", final["content"]), brief(stored)
    return final


# 2. Redis restarted or down


def test_replies_after_redis_restarted_while_idle(tmp_path, cluster_factory, private_redis):
    cluster = cluster_factory(db_url=sqlite_url(tmp_path), stream_backend=private_redis.url, **FAST)
    server = cluster.start("a")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        cid = create_conversation(client, server)
        complete_reply(client, server, cid, "/repeat 20 ab", "ab" * 20)

        before = private_redis.pid
        private_redis.restart()  # a crash and restart of Redis while nothing streams
        assert private_redis.pid != before and private_redis.ping()

        for turn in range(5):
            try:
                complete_reply(client, server, cid, f"/repeat 30 t{turn}", f"t{turn}" * 30)
            except AssertionError as exc:
                raise AssertionError(f"reply {turn + 1} of 5 after the Redis restart: {exc}") from exc


REQUEST_TRACEBACK = (
    "Uncaught exception",
    'tornado/web.py"',
    "jupyter_resumechat/handlers/",
)


def request_tracebacks(log: str) -> list[str]:
    """Lines of a server log showing a traceback from handling a request: tornado's
    "Uncaught exception" (a 500), or a frame of a request handler. Background tasks
    that retry and log while Redis is down are not requests (none has such a frame)."""
    lines = log.splitlines()
    return [
        "\n".join(lines[max(0, n - 3) : n + 3])
        for n, line in enumerate(lines)
        if any(marker in line for marker in REQUEST_TRACEBACK)
    ]


def test_redis_down_history_readable_send_is_503(tmp_path, cluster_factory, private_redis):
    cluster = cluster_factory(db_url=sqlite_url(tmp_path), stream_backend=private_redis.url, **FAST)
    server = cluster.start("a")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        cid = create_conversation(client, server)
        complete_reply(client, server, cid, "/repeat 20 ab", "ab" * 20)

        private_redis.kill()
        assert not private_redis.ping()
        log_from = len(server.read_log())

        history = client.get(server.url(f"conversations/{cid}/messages"))
        assert history.status_code == 200, (
            f"GET messages with Redis down answered {history.status_code}: {history.text:.300}"
        )
        found = history.json()["messages"]
        assert [(m["role"], m["status"]) for m in found] == [("user", "complete"), ("assistant", "complete")]
        assert found[1]["content"] == "ab" * 20

        refused = client.post(server.url(f"conversations/{cid}/messages"), json={"content": "hello"})
        assert refused.status_code == 503, (
            f"a send with Redis down answered {refused.status_code}: {refused.text:.300}"
        )
        body = refused.json()
        assert body.get("error") == "unavailable", body
        assert "redis" in str(body.get("detail", "")).lower(), body

        wait_for(  # the server logs a request once it has answered it
            lambda: server.read_log()[log_from:], lambda log: "503 POST" in log, 30, "the 503 in the log"
        )
        logged = request_tracebacks(server.read_log()[log_from:])
        assert not logged, "requests made while Redis was down logged a traceback:\n" + logged[0][:2000]
        assert len(messages(client, server, cid)) == 2  # the refused send added no turn

        private_redis.start()  # back on the same port
        accepted = wait_for(
            lambda: client.post(
                server.url(f"conversations/{cid}/messages"), json={"content": "/repeat 10 ok"}
            ),
            lambda r: r.status_code == 202,
            15,
            "a send accepted once Redis is back",
        )
        final = final_of(client, server, accepted.json()["stream_id"])
        assert (final["status"], final["content"]) == ("complete", "ok" * 10), brief(final)
        assert len(messages(client, server, cid)) == 4


# 3. Split brain: a frozen owner, a stalled Redis


def _pair(tmp_path, cluster_factory, postgres_url, private_redis):
    cluster = cluster_factory(db_url=postgres_url, stream_backend=private_redis.url, **FAST)
    return cluster, cluster.start("a"), cluster.start("b")


def _agree(
    client: httpx.Client,
    servers: list[ServerProcess],
    db: Database,
    cid: str,
    final: dict[str, Any],
    when: str,
) -> None:
    """What the final announced is what the database holds, read any way."""
    said = (final["status"], final["content"])
    for server in servers:
        stored = message(client, server, cid, final["id"])
        assert (stored["status"], stored["content"]) == said, (
            f"{when}: the final said {brief(final)} but through :{server.port} the message is {brief(stored)}"
        )
    row = db.row(final["id"])
    assert (row["status"], row["content"]) == said, (
        f"{when}: the final said {brief(final)} but the database holds {brief(row)}"
    )


def _running_reply(client: httpx.Client, a: ServerProcess, b: ServerProcess) -> tuple[str, dict[str, Any]]:
    cid = create_conversation(client, a)
    sent = send(client, a, cid, "/pace 0.01 /repeat 3000 ab")
    reply_id = sent["assistant_message"]["id"]
    wait_for(
        lambda: message(client, b, cid, reply_id),
        lambda m: len(m["content"]) >= 40,
        20,
        "B sees A's reply grow",
    )
    return cid, sent


def test_a_frozen_owner_that_lost_its_lease_writes_nothing(
    tmp_path, cluster_factory, postgres_url, private_redis
):
    cluster, a, b = _pair(tmp_path, cluster_factory, postgres_url, private_redis)
    db = Database(postgres_url)
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid, sent = _running_reply(client, a, b)

        # SIGSTOP: A holds its lease, connections and job, and says nothing; B adopts
        # the reply once A's lease lapsed. Should the freeze land inside one of A's
        # short database transactions, B's commit waits on A's row lock: then A is
        # let go for a moment (it commits) and frozen again.
        for attempt in range(2):
            cluster.freeze(a)
            try:
                final = final_of(client, b, sent["stream_id"], timeout=12)
                break
            except (AssertionError, httpx.HTTPError):
                if attempt:
                    raise
                cluster.thaw(a)
                time.sleep(0.05)
        assert final["status"] == "interrupted", brief(final)
        assert final["content"] and final["content"] == "ab" * (len(final["content"]) // 2), brief(final)
        _agree(client, [b], db, cid, final, "A frozen, B adopted")

        cluster.thaw(a)
        wait_for(lambda: _answers(client, a), bool, 20, "A answers again after SIGCONT")
        time.sleep(2 * FAST["owner_lease"])  # many supervisor ticks and model pieces on A
        _agree(client, [a, b], db, cid, final, "after A continued")
        assert not stream_status(client, a, cid)["active"]
        time.sleep(1.0)
        _agree(client, [a, b], db, cid, final, "after A continued a while longer")
        again = final_of(client, a, sent["stream_id"], timeout=10)
        assert (again["status"], again["content"]) == (final["status"], final["content"]), (
            f"the stream's final changed: first {brief(final)}, now {brief(again)}"
        )


def _answers(client: httpx.Client, server: ServerProcess) -> bool:
    try:
        return client.get(server.url("models"), timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_redis_stall_does_not_split_the_brain(tmp_path, cluster_factory, postgres_url, private_redis):
    _, a, b = _pair(tmp_path, cluster_factory, postgres_url, private_redis)
    db = Database(postgres_url)
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid, sent = _running_reply(client, a, b)

        private_redis.pause()  # SIGSTOP: every Redis call of both servers hangs
        time.sleep(3 * FAST["owner_lease"])
        private_redis.resume()

        # whoever concludes (B adopting, A going on, A giving up), it concludes once
        try:
            wait_for(
                lambda: stream_status(client, b, cid),
                lambda s: not s["active"],
                4 * FAST["owner_lease"],
                "concluded after the stall",
            )
        except AssertionError:  # nobody adopted: A still owns it; end it
            aborted = client.post(b.url(f"streams/{sent['stream_id']}/abort"))
            assert aborted.status_code == 200, aborted.text
        final = final_of(client, b, sent["stream_id"], timeout=25)
        assert final["status"] in {"interrupted", "aborted", "complete", "error"}, brief(final)
        _agree(client, [a, b], db, cid, final, "after the Redis stall")
        time.sleep(2 * FAST["owner_lease"])
        _agree(client, [a, b], db, cid, final, "a while after the Redis stall")
        again = final_of(client, a, sent["stream_id"], timeout=10)
        assert (again["status"], again["content"]) == (final["status"], final["content"]), (
            f"the stream's final changed: first {brief(final)}, now {brief(again)}"
        )


# 4. Coalesced appends: Redis stalls while a batch is in flight


def test_a_redis_stall_mid_batch_loses_and_repeats_nothing(tmp_path, cluster_factory, private_redis):
    """Redis stops answering (SIGSTOP) while a fast reply's batches are in flight,
    then answers again: every id 1, 2, 3… once, and the text whole (docs/protocol.md#exactly-once)."""
    cluster = cluster_factory(
        db_url=sqlite_url(tmp_path), stream_backend=private_redis.url, append_coalesce_ms=10, **FAST
    )
    server = cluster.start("a")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        cid = create_conversation(client, server)
        sent = send(client, server, cid, "/pace 0.002 /repeat 1500 ab")
        wait_for(
            lambda: message(client, server, cid, sent["assistant_message"]["id"]),
            lambda m: len(m["content"]) >= 200,
            20,
            "the reply under way",
        )
        private_redis.pause()
        time.sleep(1.0)  # pieces keep coming and queue up; the batch in flight hangs
        private_redis.resume()
        status, events = read_events(client, server, sent["stream_id"], last=0, timeout=60)
        assert status == 200
        ids = [e["id"] for e in events]
        assert ids == list(range(1, len(ids) + 1)), f"ids not 1..n once: {ids[:5]}…{ids[-5:]}"
        text = "".join(e["data"].get("text", "") for e in events if e["event"] == "delta")
        final = events[-1]["data"]["message"]
        assert final["status"] == "complete", brief(final)
        assert text == final["content"] == "ab" * 1500, brief(final)
        stored = message(client, server, cid, final["id"])
        assert (stored["status"], stored["content"]) == ("complete", "ab" * 1500), brief(stored)
