"""Agent runs where real deployments break them: a server SIGKILLed while a call
waits for approval or while a tool runs, two servers given the same decision at
once, a page that claims a call and vanishes (docs/protocol.md#agent-runs).

Each test runs real server processes on memory+SQLite and on Redis+PostgreSQL,
with a real MCP server (``tests/support/mcp_server.py``) whose ``write_note``
appends a line to a file per execution, so "ran exactly once" is counted on
disk, not assumed.  Why processes: a SIGKILL needs one to kill.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_fault_servers import FAST, Cluster, clusters, wait_for
from tests.support.server_process import ServerProcess
from tests.support.services import execute_sql, run_aside

MCP_SERVER = str(Path(__file__).resolve().parents[1] / "support" / "mcp_server.py")
WRITE = '/tool t__write_note {"line": "once"}'


@pytest.fixture
def notes(tmp_path: Path) -> Iterator[Path]:
    """The MCP server's notes; any ``hang`` it started is killed at the end
    (a SIGKILLed Jupyter server leaves its stdio child behind)."""
    path = tmp_path / "notes.txt"
    path.touch()
    yield path
    for line in path.read_text().splitlines():
        if line.startswith("hang started "):
            try:
                os.kill(int(line.split()[-1]), signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def cluster(tmp_path: Path, backend: dict[str, Any], notes: Path) -> Iterator[Callable[[str], ServerProcess]]:
    """Start servers that share the stores, each with the MCP server configured."""
    with clusters(tmp_path) as make:
        # the stores: each pair of BACKENDS.  A 4 s lease, not FAST's 1 s: here both servers
        # live, and on a loaded machine a heartbeat 1 s late let one recover the other's run
        # (ended `interrupted`, its approved call `cancelled`): fencing, not what is tested.
        # A SIGKILLed server is dead at once on this host, lease or not (store/instances.py).
        made: Cluster = make(**{**FAST, "owner_lease": 4.0}, **backend)

        def start(name: str) -> ServerProcess:
            config = tmp_path / name / "config"
            config.mkdir(parents=True, exist_ok=True)
            env = {"NOTES": str(notes), "GATE": str(notes.with_name("gate"))}
            mcp = {"t": {"command": sys.executable, "args": [MCP_SERVER], "env": env}}
            (config / "jupyter_server_config.json").write_text(
                json.dumps({"ResumeChat": {"mcp_servers": mcp}})
            )
            return made.start(name)

        yield start


def lease_until(client: httpx.Client, server: ServerProcess) -> float:
    """When the server's lease ends, as its health says (its supervisor renews it)."""
    from datetime import datetime

    until = client.get(server.url("health")).json()["instance"]["lease_until"]
    return datetime.fromisoformat(until.replace("Z", "+00:00")).timestamp()


def lines(notes: Path, prefix: str = "") -> list[str]:
    return [line for line in notes.read_text().splitlines() if line.startswith(prefix)]


def reply(client: httpx.Client, server: ServerProcess, cid: str) -> dict[str, Any]:
    messages = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"]
    return messages[-1]


def calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [part["call"] for part in message.get("parts", []) if part["type"] == "tool"]


def start_run(client: httpx.Client, server: ServerProcess, content: str) -> tuple[str, dict[str, Any]]:
    cid = client.post(server.url("conversations"), json={}).json()["id"]
    answer = client.post(
        server.url(f"conversations/{cid}/messages"), json={"content": content, "tools": "all"}
    )
    assert answer.status_code == 202, answer.text
    return cid, answer.json()


def waiting_call(client: httpx.Client, server: ServerProcess, cid: str) -> dict[str, Any]:
    message = wait_for(
        lambda: reply(client, server, cid),
        lambda m: any(c["status"] == "awaiting_approval" for c in calls(m)),
        30,
        "a call awaiting approval",
    )
    return calls(message)[0]


def awaiting(client: httpx.Client, server: ServerProcess, cid: str, what: str) -> dict[str, Any]:
    """The conversation's stream status once its run waits for a decision."""
    return wait_for(
        lambda: client.get(server.url(f"conversations/{cid}/stream")).json(),
        lambda s: s["active"] and s["awaiting"] == "approval",
        30,
        what,
    )


def decide(client: httpx.Client, server: ServerProcess, sid: str, call_id: str) -> httpx.Response:
    return client.post(server.url(f"streams/{sid}/tools/{call_id}/decision"), json={"decision": "approve"})


def ended(client: httpx.Client, server: ServerProcess, cid: str) -> dict[str, Any]:
    return wait_for(
        lambda: reply(client, server, cid), lambda m: m["status"] != "streaming", 30, "the reply's end"
    )


def claimed_page_call(client: httpx.Client, server: ServerProcess) -> tuple[str, str]:
    """A run whose ``notebook_run_cell`` a page's view approved (an execute call asks first)
    and claimed as ``tab-1``: its conversation and the call's path."""
    cid, sent = start_run(client, server, '/tool notebook_run_cell {"cell_id": "c1"}')
    call = wait_for(lambda: calls(reply(client, server, cid)), bool, 30, "the page call")[0]
    path = f"streams/{sent['stream_id']}/tools/{call['id']}"
    assert decide(client, server, sent["stream_id"], call["id"]).status_code == 200
    wait_for(
        lambda: client.post(server.url(f"{path}/claim"), json={"client_id": "tab-1"}),
        lambda r: r.status_code == 200,
        30,
        "the claim",
    )
    return cid, path


def test_sigkill_while_a_call_awaits_approval_then_approve_on_a_fresh_server(cluster, notes: Path):
    first = cluster("a")
    with httpx.Client(headers=first.headers, timeout=30) as client:
        cid, sent = start_run(client, first, WRITE)
        call = waiting_call(client, first, cid)
        first.kill(signal.SIGKILL)
        assert lines(notes) == []  # nothing ran without a decision

        fresh = cluster("b")  # a new process (and, on memory streams, an empty stream store)
        status = awaiting(client, fresh, cid, "the parked run, still waiting, after the restart")
        assert reply(client, fresh, cid)["status"] == "streaming"
        approved = decide(client, fresh, status["stream_id"], call["id"])
        assert approved.status_code == 200, approved.text
        final = ended(client, fresh, cid)
        assert final["status"] == "complete", final
        assert calls(final)[0]["status"] == "done"
        assert "`t__write_note` answered: noted 'once'" in final["content"]
        assert lines(notes) == ["once"]  # exactly once, on the server that was told
        # the stream the client follows now ends with that final (no 404 loop, no second run)
        again = decide(client, fresh, sent["stream_id"], call["id"])
        assert again.status_code == 200 and lines(notes) == ["once"]


@contextmanager
def parks_refused(db_url: str) -> Iterator[None]:
    """The database refuses every park (a trigger on ``waiting``), as a transient
    error, so the run retries it: a SIGKILL then lands exactly between its calls'
    commit and its park's.  A driver error, not a crash: what a trigger can do."""
    if db_url.startswith("sqlite"):
        path = db_url.split("///", 1)[1]

        def execute(sql: str) -> None:
            with closing(sqlite3.connect(path, timeout=30)) as conn:
                conn.execute(sql)
                conn.commit()

        # an unknown function fails any statement the trigger is compiled into (an
        # OperationalError): so only those that set ``waiting``, as a park does
        execute(
            "CREATE TRIGGER rc_test_no_park BEFORE UPDATE OF waiting ON resumechat_messages "
            "WHEN NEW.waiting IS NOT NULL BEGIN SELECT rc_test_parks_refused(); END"
        )
        try:
            yield
        finally:
            execute("DROP TRIGGER rc_test_no_park")
        return
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://")
    run_aside(
        execute_sql(
            "CREATE FUNCTION rc_test_no_park() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'the test refuses parks'; END $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER rc_test_no_park BEFORE UPDATE ON resumechat_messages FOR EACH ROW "
            "WHEN (NEW.waiting IS NOT NULL) EXECUTE FUNCTION rc_test_no_park()",
            dsn,
        )
    )
    try:
        yield
    finally:
        run_aside(execute_sql("DROP TRIGGER rc_test_no_park ON resumechat_messages", dsn))


def test_sigkill_after_the_calls_commit_before_the_park_the_run_waits_on_a_fresh_server(
    cluster, notes: Path, backend: dict[str, Any]
):
    """The window CI once hit by chance: the call is committed ``awaiting_approval``
    but the run has not parked yet.  Nothing ran, so the reply is not a failure:
    the server that finds it parks it, and the decision continues it."""
    first = cluster("a")
    with httpx.Client(headers=first.headers, timeout=30) as client:
        with parks_refused(backend["db_url"]):
            cid, _ = start_run(client, first, WRITE)
            call = waiting_call(client, first, cid)
            first.kill(signal.SIGKILL)
        fresh = cluster("b")
        status = awaiting(client, fresh, cid, "the run, parked by the server that found it")
        assert reply(client, fresh, cid)["status"] == "streaming"
        # a reader attaching sees the call waiting (on Redis, the old stream; on memory, a new one)
        with client.stream("GET", fresh.url(f"streams/{status['stream_id']}/events")) as response:
            first_event = next(line for line in response.iter_lines() if line.startswith("data:"))
        assert call["id"] in first_event and "awaiting_approval" in first_event
        assert decide(client, fresh, status["stream_id"], call["id"]).status_code == 200
        final = ended(client, fresh, cid)
        assert final["status"] == "complete", final
        assert calls(final)[0]["status"] == "done"
        assert lines(notes) == ["once"]


def test_sigkill_while_a_server_tool_runs_ends_it_unknown_and_never_again(cluster, notes: Path):
    first = cluster("a")
    with httpx.Client(headers=first.headers, timeout=30) as client:
        cid, _ = start_run(client, first, "/tool t__hang {}")
        wait_for(lambda: lines(notes, "hang started"), bool, 60, "the tool started")
        first.kill(signal.SIGKILL)

        fresh = cluster("b")
        final = ended(client, fresh, cid)
        assert final["status"] == "interrupted"
        (call,) = calls(final)
        assert call["status"] == "unknown" and call["error"]["type"] == "unknown"
        # Continue tells the model the outcome is unknown; nothing runs the call again
        answer = client.post(fresh.url(f"conversations/{cid}/messages"), json={"continue": final["id"]})
        assert answer.status_code == 202, answer.text
        done = ended(client, fresh, cid)
        assert "`t__hang` failed: The outcome of this call is unknown" in done["content"], done["content"]
        assert len(lines(notes, "hang started")) == 1


def test_two_servers_given_the_same_decision_at_once_run_it_once(cluster, notes: Path):
    a, b = cluster("a"), cluster("b")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid, sent = start_run(client, a, WRITE)
        call = waiting_call(client, a, cid)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda s: decide(client, s, sent["stream_id"], call["id"]), [a, b]))
        assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
        final = ended(client, a, cid)
        assert final["status"] == "complete" and calls(final)[0]["status"] == "done"
        assert lines(notes) == ["once"]


def test_a_second_server_starting_while_a_server_tool_runs_leaves_the_run_to_the_first(cluster, notes: Path):
    """A start sweeps: recovery, parked runs, lapsed claims.  None of it may take a live
    server's running call (it would run the tool twice, or end it ``unknown``)."""
    a = cluster("a")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid, _ = start_run(client, a, '/tool t__gated {"line": "passed"}')
        wait_for(lambda: lines(notes, "gated started"), bool, 60, "the tool started")
        b = cluster("b")
        first = lease_until(client, b)  # b's supervisor swept at least twice (every half lease)
        wait_for(lambda: lease_until(client, b), lambda t: t >= first + 4, 30, "b's sweeps")
        assert reply(client, b, cid)["status"] == "streaming"
        notes.with_name("gate").touch()
        final = ended(client, b, cid)
        assert final["status"] == "complete", final
        assert [c["status"] for c in calls(final)] == ["done"]
        assert "`t__gated` answered: passed passed" in final["content"], final["content"]
        assert len(lines(notes, "gated started")) == 1 and lines(notes, "passed") == ["passed"]


def test_sigkill_right_after_a_page_posted_its_result_keeps_the_result(cluster):
    """The result is committed before its 200: a server killed the moment after loses
    neither it nor the run; nothing asks the page again."""
    a = cluster("a")
    with httpx.Client(headers=a.headers, timeout=30) as client:
        cid, path = claimed_page_call(client, a)
        posted = client.post(a.url(f"{path}/result"), json={"client_id": "tab-1", "content": "3"})
        assert posted.status_code == 200, posted.text
        a.kill(signal.SIGKILL)

        b = cluster("b")
        final = ended(client, b, cid)
        (ended_call,) = calls(final)
        assert ended_call["status"] == "done" and ended_call["result"]["content"] == "3", ended_call
        if final["status"] == "interrupted":  # killed while it went on: Continue finishes it
            answer = client.post(b.url(f"conversations/{cid}/messages"), json={"continue": final["id"]})
            assert answer.status_code == 202, answer.text
            final = ended(client, b, cid)
        assert final["status"] == "complete", final
        assert "`notebook_run_cell` answered: 3" in final["content"], final["content"]
        again = client.post(b.url(f"{path}/claim"), json={"client_id": "tab-2"})
        assert again.status_code == 409, again.text


def test_a_claimant_that_vanishes_leaves_the_call_unknown_and_the_run_goes_on(cluster):
    server = cluster("a")
    with httpx.Client(headers=server.headers, timeout=30) as client:
        cid, path = claimed_page_call(client, server)  # then the claiming tab closes
        final = ended(client, server, cid)  # after the claim's lease (30 s by default)
        (ended_call,) = calls(final)
        assert ended_call["status"] == "unknown" and ended_call["claimed_by"] == "tab-1"
        assert final["status"] == "complete"
        assert "`notebook_run_cell` failed: The outcome of this call is unknown" in final["content"]
        late = client.post(server.url(f"{path}/result"), json={"client_id": "tab-1", "content": "3"})
        assert late.status_code == 409


def test_redis_restarting_empty_while_a_run_waits_loses_neither_the_run_nor_the_call(
    tmp_path: Path, notes: Path
):
    from tests.support.redis_server import running_redis

    with running_redis(tmp_path / "redis") as redis, clusters(tmp_path) as make:
        db = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
        server = make(**FAST, db_url=db, stream_backend=redis.url).start("a")
        with httpx.Client(headers=server.headers, timeout=30) as client:
            cid, sent = start_run(client, server, '/tool file_write {"path": "r.txt", "content": "x"}')
            call = waiting_call(client, server, cid)
            redis.kill()
            redis.start()  # a new, empty Redis on the same port: the stream is gone
            status = wait_for(
                lambda: client.get(server.url(f"conversations/{cid}/stream")).json(),
                lambda s: s["active"] and s["awaiting"] == "approval" and s["stream_id"] != sent["stream_id"],
                30,
                "the waiting run on a new stream",
            )
            # the new stream carries the run so far: a reader attaching sees the call waiting
            with client.stream("GET", server.url(f"streams/{status['stream_id']}/events")) as response:
                first = next(line for line in response.iter_lines() if line.startswith("data:"))
            assert call["id"] in first and "awaiting_approval" in first
            assert decide(client, server, status["stream_id"], call["id"]).status_code == 200
            final = ended(client, server, cid)
            assert final["status"] == "complete" and calls(final)[0]["status"] == "done"
            assert (tmp_path / "a" / "r.txt").read_text() == "x"


def test_two_servers_on_one_sqlite_file_share_a_waiting_run_without_taking_each_others_streams(
    tmp_path: Path, notes: Path
):
    """Memory streams live in one process: the other server must neither take a live
    server's waiting run for one whose stream is gone, nor leave a stale stream behind
    when it continues the run itself."""
    with clusters(tmp_path) as make:
        made = make(**FAST, db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
        a, b = made.start("a"), made.start("b")
        with httpx.Client(headers=a.headers, timeout=30) as client:
            cid, sent = start_run(client, a, '/tool file_write {"path": "t.txt", "content": "x"}')
            call = waiting_call(client, a, cid)
            # several sweeps of both servers (every half lease, 0.5 s) go by: each renewed its
            # lease 2 s further (the same supervisor loop), and nothing moved
            for server in (a, b):
                first = lease_until(client, server)
                wait_for(lambda: lease_until(client, server), lambda t: t >= first + 2, 30, "sweeps")  # noqa: B023
            status = client.get(a.url(f"conversations/{cid}/stream")).json()
            assert status["stream_id"] == sent["stream_id"] and status["awaiting"] == "approval"
            assert decide(client, b, sent["stream_id"], call["id"]).status_code == 200
            final = ended(client, b, cid)
            assert final["status"] == "complete" and (tmp_path / "b" / "t.txt").read_text() == "x"
            # a's stale stream is expired by its sweep: the conversation takes a new send there
            answer = wait_for(
                lambda: client.post(a.url(f"conversations/{cid}/messages"), json={"content": "hi"}),
                lambda r: r.status_code == 202,
                30,
                "a free conversation on the server that parked the run",
            )
            assert answer.status_code == 202
