"""Several real server processes sharing one database: no server breaks another's replies.

docs/protocol.md#bounded-loss (bounded loss, recovered by the right server) and #one-generation (one active
generation per conversation), across processes: a second ``jupyter lab`` on
the same SQLite file, replicas on PostgreSQL + Redis.

The database is read two ways: through a server that cannot see the live
stream (memory streams live in the owner's process, so another server shows
only what was checkpointed), and directly with a plain driver.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL, run_aside
from tests.support.sse import sse_events

# Every server here: short leases and checkpoints, heartbeats often enough for
# a reader to notice its own deadline.
FAST: dict[str, Any] = {
    "owner_lease": 1.0,
    "checkpoint_interval": 0.1,
    "heartbeat_interval": 0.5,
    "demo_delay": 0.005,
}

LONG_AB = "/pace 0.05 /repeat 300 ab"  # about 15 s; the whole text is "ab" * 300


# helpers shared with test_fault_redis.py


class Cluster:
    """Server processes of one test, all stopped at teardown whatever happened
    (a frozen one is continued first)."""

    def __init__(self, tmp_path: Path, **traits: Any) -> None:
        self.tmp_path = tmp_path
        self.traits = traits
        self.servers: list[ServerProcess] = []
        self.frozen: set[int] = set()

    def start(self, name: str, **more: Any) -> ServerProcess:
        root = self.tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        server = ServerProcess(root, **{**self.traits, **more})
        self.servers.append(server)
        return server.start()

    def freeze(self, server: ServerProcess) -> None:
        assert server.proc is not None and server.proc.poll() is None
        os.kill(server.proc.pid, signal.SIGSTOP)
        self.frozen.add(server.proc.pid)

    def thaw(self, server: ServerProcess) -> None:
        if server.proc is not None and server.proc.pid in self.frozen:
            self.frozen.discard(server.proc.pid)
            if server.proc.poll() is None:
                os.kill(server.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        for server in self.servers:
            try:
                self.thaw(server)
            except OSError:
                pass
        for server in self.servers:
            try:
                server.stop()
            except Exception:
                if server.proc is not None and server.proc.poll() is None:
                    server.proc.kill()


@contextmanager
def clusters(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Make clusters; every one is stopped on the way out."""
    made: list[Cluster] = []

    def make(**traits: Any) -> Cluster:
        cluster = Cluster(tmp_path, **traits)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()


@pytest.fixture
def cluster_factory(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    with clusters(tmp_path) as make:
        yield make


def brief(message: dict[str, Any] | None) -> str:
    """A message as an assertion shows it: status and the size of its text."""
    if not message:
        return repr(message)
    content = message.get("content", "")
    return f"{{status={message.get('status')!r}, len={len(content)}, content={content[:24]!r}…}}"


def wait_for(
    fetch: Callable[[], Any], ok: Callable[[Any], bool], timeout: float, what: str, interval: float = 0.1
) -> Any:
    """Poll ``fetch`` until ``ok`` holds for its value; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            shown = brief(value) if isinstance(value, dict) and "status" in value else repr(value)[:300]
            raise AssertionError(f"{what}: not within {timeout:g} s; last seen {shown}")
        time.sleep(interval)


def create_conversation(client: httpx.Client, server: ServerProcess) -> str:
    response = client.post(server.url("conversations"), json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def send(client: httpx.Client, server: ServerProcess, cid: str, content: str) -> dict[str, Any]:
    response = client.post(server.url(f"conversations/{cid}/messages"), json={"content": content})
    assert response.status_code == 202, f"send answered {response.status_code}: {response.text[:500]}"
    return dict(response.json())


def messages(client: httpx.Client, server: ServerProcess, cid: str) -> list[dict[str, Any]]:
    response = client.get(server.url(f"conversations/{cid}/messages"))
    assert response.status_code == 200, f"GET messages answered {response.status_code}: {response.text[:500]}"
    return list(response.json()["messages"])


def message(client: httpx.Client, server: ServerProcess, cid: str, message_id: str) -> dict[str, Any]:
    for found in messages(client, server, cid):
        if found["id"] == message_id:
            return found
    raise AssertionError(f"message {message_id} is not in conversation {cid}")


def stream_status(client: httpx.Client, server: ServerProcess, cid: str) -> dict[str, Any]:
    response = client.get(server.url(f"conversations/{cid}/stream"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def read_events(
    client: httpx.Client, server: ServerProcess, sid: str, *, last: int | None = None, timeout: float = 30.0
) -> tuple[int, list[dict[str, Any]]]:
    """Read a stream until its final (or fail after ``timeout``): (status, events)."""
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    with client.stream(
        "GET", server.url(f"streams/{sid}/events"), headers=headers, timeout=httpx.Timeout(10.0)
    ) as response:
        if response.status_code != 200:
            response.read()
            return response.status_code, events

        def lines() -> Iterator[str]:  # the deadline is checked on keepalives too
            for line in response.iter_lines():
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"no final on stream {sid} within {timeout:g} s; "
                        f"{len(events)} events, the last {events[-1:]!r:.300}"
                    )
                yield line

        for event in sse_events(lines()):
            events.append(event)
            if event.get("event") == "final":
                return 200, events
    raise AssertionError(f"stream {sid} closed without a final after {len(events)} events")


def final_of(client: httpx.Client, server: ServerProcess, sid: str, timeout: float = 40.0) -> dict[str, Any]:
    """The message the stream's ``final`` announced (reading from a snapshot: no replay)."""
    status, events = read_events(client, server, sid, timeout=timeout)
    assert status == 200, f"stream {sid} answered {status}"
    assert events and events[-1]["event"] == "final", events[-1:]
    return dict(events[-1]["data"]["message"])


class Database:
    """The stored reply, read without any server: (status, content)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def row(self, message_id: str) -> dict[str, Any]:
        sql = "SELECT status, content FROM resumechat_messages WHERE id = {}"
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[1]
            conn = sqlite3.connect(path, timeout=30)
            try:
                found = conn.execute(sql.format("?"), (message_id,)).fetchone()
            finally:
                conn.close()
        else:
            found = run_aside(self._pg(sql.format("$1"), message_id))
        assert found is not None, f"message {message_id} is not in the database"
        return {"status": found[0], "content": found[1]}

    async def _pg(self, sql: str, message_id: str) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
        try:
            return await conn.fetchrow(sql, message_id)
        finally:
            await conn.close()


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"


# 1. A second server starting must not flip the live replies of the first


def _second_start_keeps_live_reply(cluster: Cluster, db: Database) -> None:
    a = cluster.start("a")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid = create_conversation(client, a)
        sent = send(client, a, cid, LONG_AB)
        reply_id = sent["assistant_message"]["id"]
        wait_for(
            lambda: message(client, a, cid, reply_id),
            lambda m: len(m["content"]) >= 6,
            20,
            "A shows the reply's text",
        )
        before = wait_for(
            lambda: db.row(reply_id), lambda r: len(r["content"]) >= 6, 20, "a checkpoint holds text"
        )
        assert before["status"] == "streaming", before

        b = cluster.start("b")
        assert stream_status(client, a, cid)["active"], (
            "the reply ended before B was up: the machine is too slow for this test"
        )

        on_b = message(client, b, cid, reply_id)
        on_a = message(client, a, cid, reply_id)
        stored = db.row(reply_id)
        assert on_b["status"] == "streaming", f"B's start changed A's live reply: through B {brief(on_b)}"
        assert on_a["status"] == "streaming", f"B's start changed A's live reply: through A {brief(on_a)}"
        assert stored["status"] == "streaming", f"B's start changed A's live reply: in the DB {brief(stored)}"

        # A still checkpoints it: the text another server can see keeps growing
        seen = len(on_b["content"])
        stored_len = len(stored["content"])

        def still_streaming(found: dict[str, Any], where: str) -> dict[str, Any]:
            assert found["status"] == "streaming", f"the reply stopped streaming ({where}): {brief(found)}"
            return found

        grown = wait_for(
            lambda: still_streaming(message(client, b, cid, reply_id), "through B"),
            lambda m: len(m["content"]) >= seen + 6,
            15,
            "the reply's checkpointed text, read through B, grows after B started",
        )
        assert grown["content"] == "ab" * (len(grown["content"]) // 2)
        wait_for(
            lambda: still_streaming(db.row(reply_id), "in the DB"),
            lambda r: len(r["content"]) >= stored_len + 6,
            15,
            "the reply's text in the database grows after B started",
        )
        assert still_streaming(message(client, a, cid, reply_id), "through A")

        final = final_of(client, a, sent["stream_id"])
        assert final["status"] == "complete" and final["content"] == "ab" * 300, brief(final)
        for where, found in (
            ("through A", message(client, a, cid, reply_id)),
            ("through B", message(client, b, cid, reply_id)),
            ("in the DB", db.row(reply_id)),
        ):
            assert found["status"] == "complete" and found["content"] == "ab" * 300, (
                f"{where}: {brief(found)}"
            )


def test_second_server_on_the_same_sqlite_file_keeps_the_first_servers_reply(tmp_path, cluster_factory):
    url = sqlite_url(tmp_path)
    _second_start_keeps_live_reply(cluster_factory(db_url=url, **FAST), Database(url))


def test_second_replica_on_postgresql_and_redis_keeps_the_first_replicas_reply(
    cluster_factory, postgres_url, redis_prefix
):
    cluster = cluster_factory(
        db_url=postgres_url, stream_backend=REDIS_URL, redis_prefix=redis_prefix, **FAST
    )
    _second_start_keeps_live_reply(cluster, Database(postgres_url))


def test_one_generation_per_conversation_across_servers_sharing_only_sqlite(tmp_path, cluster_factory):
    cluster = cluster_factory(
        db_url=sqlite_url(tmp_path), **FAST
    )  # memory streams: nothing shared but the DB
    a, b = cluster.start("a"), cluster.start("b")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid = create_conversation(client, a)
        sent = send(client, a, cid, LONG_AB)
        busy = client.post(b.url(f"conversations/{cid}/messages"), json={"content": "a second reply"})
        assert busy.status_code == 409, (
            f"B answered {busy.status_code} while A's reply runs: {busy.text:.300}"
        )
        answer = busy.json()
        assert answer.get("error") == "generation_active", answer
        assert answer.get("stream_id") == sent["stream_id"], answer
        assert len(messages(client, a, cid)) == 2, "a refused send must add no turn"

        aborted = client.post(a.url(f"streams/{sent['stream_id']}/abort"))
        assert aborted.status_code == 200, aborted.text
        assert aborted.json()["status"] == "aborted"
        again = send(client, b, cid, "hello")  # the conversation is free again, on any server
        final = final_of(client, b, again["stream_id"])
        assert final["status"] == "complete" and final["content"], brief(final)


def test_only_a_dead_servers_replies_are_recovered(tmp_path, cluster_factory):
    url = sqlite_url(tmp_path)
    db = Database(url)
    cluster = cluster_factory(db_url=url, **FAST)
    a, b = cluster.start("a"), cluster.start("b")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        dead_cid = create_conversation(client, a)
        dead = send(client, a, dead_cid, "/pace 0.05 /repeat 2000 ab")
        dead_id = dead["assistant_message"]["id"]
        live_cid = create_conversation(client, b)
        live = send(client, b, live_cid, "/pace 0.05 /repeat 2000 cd")
        live_id = live["assistant_message"]["id"]
        wait_for(lambda: db.row(dead_id), lambda r: len(r["content"]) >= 6, 20, "A's reply is checkpointed")

        a.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        checkpointed = db.row(dead_id)
        assert checkpointed["status"] == "streaming", brief(checkpointed)
        time.sleep(max(0.0, killed_at + 2.5 * FAST["owner_lease"] - time.monotonic()))  # A's lease lapsed

        c = cluster.start("c")  # a new server on the same file, while B's reply is live
        recovered = wait_for(
            lambda: message(client, c, dead_cid, dead_id),
            lambda m: m["status"] != "streaming",
            10,
            "A's reply (its server is dead) is recovered",
        )
        assert recovered["status"] == "interrupted", brief(recovered)
        assert recovered["content"] == checkpointed["content"], (
            f"recovered {brief(recovered)}, checkpointed {brief(checkpointed)}"
        )
        assert db.row(dead_id) == {"status": "interrupted", "content": checkpointed["content"]}

        on_c, on_b = message(client, c, live_cid, live_id), message(client, b, live_cid, live_id)
        assert on_c["status"] == "streaming", f"C's start changed B's live reply: through C {brief(on_c)}"
        assert on_b["status"] == "streaming", f"C's start changed B's live reply: through B {brief(on_b)}"
        assert db.row(live_id)["status"] == "streaming"
        wait_for(
            lambda: message(client, c, live_cid, live_id),
            lambda m: m["status"] == "streaming" and len(m["content"]) >= len(on_c["content"]) + 6,
            15,
            "B's reply keeps being checkpointed after C started",
        )

        again = client.post(c.url(f"conversations/{dead_cid}/messages"), json={"content": "go on"})
        assert again.status_code == 202, (
            f"a send after the recovery answered {again.status_code}: {again.text:.300}"
        )
        final = final_of(client, c, again.json()["stream_id"])
        assert final["status"] == "complete", brief(final)

        stopped = client.post(b.url(f"streams/{live['stream_id']}/abort"))
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "aborted"
        assert db.row(live_id)["status"] == "aborted"
