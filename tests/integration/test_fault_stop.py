"""Stopping a real server with SIGINT or SIGTERM commits every running reply.

docs/protocol.md#clean-stops: JupyterHub's local spawners stop a single-user server with
SIGINT; like SIGTERM it must commit every running reply as ``interrupted``
with all the text a reader had already seen, before the process exits.

The checkpoint interval is long, so no periodic checkpoint can save the text:
only a clean stop can. The server runs with stdin on /dev/null (not a tty),
as under a spawner, so jupyter_server's interactive "Shutdown? (y/n)" SIGINT
handler is not in play whatever terminal pytest runs in.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from unittest import mock

import httpx
import pytest

from tests.support import server_process
from tests.support.server_process import ServerProcess

CHECKPOINT_INTERVAL = 10  # seconds: far longer than the ~1 s from send to signal


class DetachedServer(ServerProcess):
    """A ServerProcess whose stdin is /dev/null, as under a JupyterHub spawner."""

    def start(self) -> DetachedServer:
        real = subprocess.Popen

        def popen(*args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs.setdefault("stdin", subprocess.DEVNULL)
            return real(*args, **kwargs)

        with mock.patch.object(server_process.subprocess, "Popen", popen):
            super().start()
        return self


@pytest.fixture
def server(tmp_path) -> Iterator[DetachedServer]:
    process = DetachedServer(
        tmp_path,
        demo_delay=0.01,
        checkpoint_interval=CHECKPOINT_INTERVAL,
        heartbeat_interval=1,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
    )
    try:
        yield process
    finally:
        process.stop()  # SIGKILL if still running, on any outcome
        if getattr(process, "log", None) is not None and not process.log.closed:
            process.log.close()


def read_some(server: ServerProcess, client: httpx.Client, sid: str, count: int) -> str:
    """Read ``count`` deltas of a live reply from the start; return the text they carry."""
    text, seen = "", 0
    with client.stream(
        "GET", server.url(f"streams/{sid}/events"), headers={"Last-Event-ID": "0"}
    ) as response:
        assert response.status_code == 200, response.read()
        event = None
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "delta":
                text += json.loads(line.split(":", 1)[1]).get("text", "")
                seen += 1
                if seen >= count:
                    break
    return text


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_commits_running_replies_with_all_their_text(server, sig):
    with httpx.Client(headers=server.headers, timeout=10) as client:
        server.start()
        conv = client.post(server.url("conversations"), json={}).json()
        sent = client.post(
            server.url(f"conversations/{conv['id']}/messages"), json={"content": "/pace 0.01 /repeat 5000 ab"}
        ).json()
        seen = read_some(server, client, sent["stream_id"], 40)
        assert seen == "ab" * 40
        signalled = time.monotonic()
        server.kill(sig, timeout=30)
        stopped_in = time.monotonic() - signalled
        log = server.read_log()
        server.start()
        reply = client.get(server.url(f"conversations/{conv['id']}/messages")).json()["messages"][1]
        restarted_log = server.read_log()
    assert reply["status"] == "interrupted", reply["status"]
    assert reply["content"].startswith(seen), (
        f"after {sig.name} (exit in {stopped_in:.2f} s) the reply kept {len(reply['content'])} "
        f"characters; a reader had already seen {len(seen)}. Log of the stopped server:\n{log[-2000:]}"
    )
    assert reply["content"] == "ab" * (len(reply["content"]) // 2)
    # stopped cleanly: the next start found nothing left streaming to recover
    assert "previous run" not in restarted_log, restarted_log[-2000:]
    assert "Traceback" not in log, log[-4000:]
