"""A regenerate of one reply sent to two servers on one database at the same moment.

The restart is an UPDATE of the reply's own row, so the "one streaming reply
per conversation" index cannot refuse the second; the UPDATE is fenced by the
reply's status and stream id instead: one server answers 202, the other 409.
(Memory streams: each server's stream store knows only its own streams.)
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from tests.support.server_process import ServerProcess

TRIALS = 8


def settle(client: httpx.Client, server: ServerProcess, cid: str) -> dict[str, Any]:
    for _ in range(600):
        messages = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"]
        if messages[-1]["status"] != "streaming":
            return dict(messages[-1])
        threading.Event().wait(0.05)  # polling the reply's state, not a fixed wait
    raise AssertionError("the reply never settled")


def race(servers: list[ServerProcess], cid: str, reply: str) -> dict[int, httpx.Response]:
    """The same regenerate to every server, released at one moment."""
    barrier = threading.Barrier(len(servers))
    answers: dict[int, httpx.Response] = {}

    def regenerate(index: int, server: ServerProcess) -> None:
        with httpx.Client(headers=server.headers, timeout=30) as own:
            barrier.wait()
            answers[index] = own.post(server.url(f"conversations/{cid}/messages"), json={"regenerate": reply})

    threads = [threading.Thread(target=regenerate, args=pair) for pair in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_servers_regenerating_one_reply_start_one_generation(tmp_path, database, request):
    url = (
        f"sqlite:///{tmp_path}/shared.db" if database == "sqlite" else request.getfixturevalue("postgres_url")
    )
    traits = {"db_url": url, "owner_lease": 2.0, "checkpoint_interval": 0.1, "demo_delay": 0.005}
    with ServerProcess(tmp_path / "a", **traits) as a, ServerProcess(tmp_path / "b", **traits) as b:
        with httpx.Client(headers=a.headers, timeout=30) as client:
            cid = client.post(a.url("conversations"), json={}).json()["id"]
            sent = client.post(
                a.url(f"conversations/{cid}/messages"), json={"content": "/pace 0.01 /repeat 30 ab "}
            ).json()
            reply = sent["assistant_message"]["id"]
            settle(client, a, cid)
            for trial in range(TRIALS):
                answers = race([a, b], cid, reply)
                codes = sorted(r.status_code for r in answers.values())
                assert codes == [202, 409], (trial, {n: r.text for n, r in answers.items()})
                final = settle(client, a, cid)
                assert final["status"] == "complete" and final["content"] == "ab " * 30, final
