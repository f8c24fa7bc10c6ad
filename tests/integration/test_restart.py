"""A real server process killed or stopped mid-stream, then started again."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from tests.support.server_process import ServerProcess


@pytest.fixture
def server(tmp_path):
    process = ServerProcess(
        tmp_path,
        demo_delay=0.01,
        checkpoint_interval=0.1,
        db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
    )
    yield process
    process.stop()


def start_long_reply(server: ServerProcess, client: httpx.Client) -> tuple[str, dict]:
    conv = client.post(server.url("conversations"), json={}).json()
    sent = client.post(
        server.url(f"conversations/{conv['id']}/messages"), json={"content": "/pace 0.01 /repeat 5000 ab"}
    ).json()
    deadline = time.monotonic() + 20
    while True:  # wait until a checkpoint holds some text
        stored = client.get(server.url(f"conversations/{conv['id']}/messages")).json()["messages"][1]
        if len(stored["content"]) >= 40:
            return conv["id"], sent
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_sigkill_mid_stream_leaves_an_interrupted_message(server):
    with httpx.Client(headers=server.headers, timeout=10) as client:
        server.start()
        cid, sent = start_long_reply(server, client)
        server.kill(signal.SIGKILL)
        server.start()
        messages = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"]
        reply = messages[1]
        assert reply["status"] == "interrupted"
        assert reply["content"] and reply["content"] == "ab" * (len(reply["content"]) // 2)
        assert "1 message(s) left streaming by a previous run" in server.read_log()
        assert client.get(server.url(f"streams/{sent['stream_id']}/events")).status_code == 404
        status = client.get(server.url(f"conversations/{cid}/stream")).json()
        assert status["active"] is False
        again = client.post(server.url(f"conversations/{cid}/messages"), json={"content": "go on"})
        assert again.status_code == 202


def test_sigterm_interrupts_and_keeps_all_the_text(server):
    with httpx.Client(headers=server.headers, timeout=10) as client:
        server.start()
        cid, sent = start_long_reply(server, client)
        read = []
        with client.stream(
            "GET", server.url(f"streams/{sent['stream_id']}/events"), headers={"Last-Event-ID": "0"}
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    read.append(line)
                if len(read) >= 30:
                    break
        assert server.kill(signal.SIGTERM) == 0
        server.start()
        reply = client.get(server.url(f"conversations/{cid}/messages")).json()["messages"][1]
        assert reply["status"] == "interrupted"
        assert len(reply["content"]) >= 60  # at least what a reader had already seen
        assert "previous run" not in server.read_log()  # stopped cleanly, nothing to recover
