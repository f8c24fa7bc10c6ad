"""The previous release and this checkout on one PostgreSQL and one Redis (docs/protocol.md#upgrades).

A rolling upgrade: a server of the previous release (``b480968``) serves a
reply while a server of this checkout starts, upgrades the schema in place
(3 → 4) and joins.  Replies cross both ways (started on one, read and resumed
on the other), a stop is sent from the other, and a server killed mid-reply
has its reply adopted by the other as ``interrupted`` with its text, both
ways.  A server of the previous release restarted on the upgraded database
refuses, loudly, naming both versions.

A run with tool calls started on the new server while an old one is up
belongs here too, once runs with tools exist (a later issue): they add
tables and entry kinds written only when ``Versions.oldest_live`` allows.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from jupyter_resumechat.store.schema import SCHEMA_VERSION
from tests.support.old_release import previous_release
from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL, run_aside

from .test_two_servers import read_events, text_of


@pytest.fixture(scope="module")
def old_env(tmp_path_factory):
    return previous_release(tmp_path_factory.mktemp("previous"))


@pytest.fixture
def launch(tmp_path, postgres_url, redis_prefix, old_env):
    """Start a server of either version on the shared database and Redis; all stopped at the end."""
    traits = dict(
        db_url=postgres_url,
        stream_backend=REDIS_URL,
        redis_prefix=redis_prefix,
        owner_lease=1.0,
        checkpoint_interval=0.1,
    )
    started: list[ServerProcess] = []

    def start(version: str, **kwargs) -> ServerProcess:
        env = old_env if version == "old" else {}
        server = ServerProcess(tmp_path / f"{version}{len(started)}", env=env, **kwargs, **traits)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def query(url: str, sql: str) -> list[tuple]:
    import asyncpg

    async def read() -> list[tuple]:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run_aside(read())


def schema_of(url: str) -> int:
    return int(query(url, "SELECT max(version) FROM resumechat_schema")[0][0])


def send(client: httpx.Client, server: ServerProcess, content: str) -> tuple[str, str]:
    conv = client.post(server.url("conversations"), json={}).json()
    sent = client.post(server.url(f"conversations/{conv['id']}/messages"), json={"content": content})
    assert sent.status_code == 202, sent.text
    return conv["id"], sent.json()["stream_id"]


def crossed(client, start_on, resume_on, content, expected, *, upgrade=None) -> None:
    """A reply started on one server, read in part there, resumed to its end on the other."""
    cid, sid = send(client, start_on, content)
    first = read_events(client, start_on.url(f"streams/{sid}/events"), last=0, stop_after=40)
    if upgrade is not None:
        upgrade()  # mid-reply
    rest = read_events(client, resume_on.url(f"streams/{sid}/events"), last=first[-1]["id"])
    assert rest[0]["id"] == first[-1]["id"] + 1 and rest[-1]["event"] == "final"
    assert rest[-1]["data"]["message"]["status"] == "complete"
    assert text_of(first) + text_of(rest) == expected
    for server in (start_on, resume_on):
        stored = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"][1]
        assert (stored["status"], stored["content"]) == ("complete", expected)


def stopped_from_the_other(client, runs, stops) -> None:
    cid, sid = send(client, runs, "/pace 0.01 /repeat 2000 ab")
    seen = read_events(client, runs.url(f"streams/{sid}/events"), last=0, stop_after=10)
    aborted = client.post(stops.url(f"streams/{sid}/abort"))
    assert aborted.status_code == 200, aborted.text
    message = aborted.json()
    assert message["status"] == "aborted" and message["content"].startswith(text_of(seen))
    stored = client.get(runs.url(f"conversations/{cid}/messages")).json()["messages"][1]
    assert (stored["status"], stored["content"]) == ("aborted", message["content"])


def adopted_by_the_other(client, runs, adopts) -> None:
    cid, sid = send(client, runs, "/pace 0.01 /repeat 5000 ab")
    seen = read_events(client, runs.url(f"streams/{sid}/events"), last=0, stop_after=30)
    runs.kill(signal.SIGKILL)
    rest = read_events(client, adopts.url(f"streams/{sid}/events"), last=seen[-1]["id"])
    final = rest[-1]["data"]["message"]
    assert rest[-1]["event"] == "final" and final["status"] == "interrupted"
    assert final["content"] == text_of(seen) + text_of(rest) and final["content"].startswith("ab" * 30)
    stored = client.get(adopts.url(f"conversations/{cid}/messages")).json()["messages"][1]
    assert (stored["status"], stored["content"]) == ("interrupted", final["content"])


def test_replies_and_stops_cross_both_ways_during_an_upgrade(launch, postgres_url) -> None:
    old = launch("old")
    assert schema_of(postgres_url) == 3
    servers: dict[str, ServerProcess] = {}
    with httpx.Client(headers=old.headers, timeout=60) as client:
        crossed(  # the new server starts and upgrades the schema while the old one writes
            client,
            old,
            old,
            "/pace 0.005 /repeat 3000 é😀",
            "é😀" * 3000,
            upgrade=lambda: servers.setdefault("new", launch("new")),
        )
        new = servers["new"]
        assert schema_of(postgres_url) == SCHEMA_VERSION
        # the instances table tells an old server is up (its row has no version)
        versions = query(postgres_url, "SELECT version FROM resumechat_instances")
        assert sorted(versions, key=str) == [(SCHEMA_VERSION,), (None,)]
        crossed(client, old, new, "/repeat 400 é😀", "é😀" * 400)
        crossed(client, new, old, "/repeat 400 é😀", "é😀" * 400)
        crossed(client, old, new, "/pace 0.005 /repeat 400 ab", "ab" * 400)
        crossed(client, new, old, "/pace 0.005 /repeat 400 ab", "ab" * 400)
        stopped_from_the_other(client, old, new)
        stopped_from_the_other(client, new, old)


def test_crashes_are_adopted_both_ways_and_a_restarted_old_server_refuses(launch, postgres_url) -> None:
    old = launch("old")
    new = launch("new")
    with httpx.Client(headers=old.headers, timeout=60) as client:
        adopted_by_the_other(client, new, old)  # the new server dies; the old one adopts
        new = launch("new")
        adopted_by_the_other(client, old, new)  # the old server dies; the new one adopts
        again = launch("old", ready=(200, 503))  # on schema 4 now: it must refuse, not misread
        refused = client.get(again.url("conversations"))
        assert refused.status_code == 503, refused.text
        detail = refused.json()["detail"]
        assert f"schema version {SCHEMA_VERSION}" in detail and "(3)" in detail, detail
        assert client.get(new.url("conversations")).status_code == 200


def test_runs_with_tools_wait_until_no_old_server_is_live(launch, postgres_url) -> None:
    """An old server would take a run that waits for an approval for a lapsed reply: while
    one is live, a send with tools is a 503 naming the versions; once it is gone, it runs."""
    old = launch("old")
    new = launch("new")
    with httpx.Client(headers=old.headers, timeout=60) as client:
        conv = client.post(new.url("conversations"), json={}).json()
        body = {"content": "/tool file_list {}", "tools": "all"}
        refused = client.post(new.url(f"conversations/{conv['id']}/messages"), json=body)
        assert refused.status_code == 503, refused.text
        assert "schema version 3" in refused.json()["detail"], refused.text
        plain = client.post(new.url(f"conversations/{conv['id']}/messages"), json={"content": "hi"})
        assert plain.status_code == 202  # everything else goes on as before
        read_events(client, new.url(f"streams/{plain.json()['stream_id']}/events"), last=0)
        old.kill(signal.SIGKILL)  # its lease lapses (owner_lease 1 s)
        deadline = time.monotonic() + 30
        while True:
            sent = client.post(new.url(f"conversations/{conv['id']}/messages"), json=body)
            if sent.status_code == 202:
                break
            assert sent.status_code == 503 and time.monotonic() < deadline, sent.text
            time.sleep(0.2)
        rest = read_events(client, new.url(f"streams/{sent.json()['stream_id']}/events"), last=0)
        final = rest[-1]["data"]["message"]
        assert final["status"] == "complete" and final["parts"][0]["call"]["status"] == "done"
