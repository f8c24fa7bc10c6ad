"""Two real Jupyter server processes sharing Redis and PostgreSQL."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from tests.support.fixtures import SSEEvent, rebuild
from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL
from tests.support.sse import sse_events

PIECE = "é😀"


@pytest.fixture
def pair(tmp_path, postgres_url, redis_prefix):
    traits = dict(
        db_url=postgres_url,
        stream_backend=REDIS_URL,
        redis_prefix=redis_prefix,
        owner_lease=1.0,
        checkpoint_interval=0.1,
        demo_delay=0.005,
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [ServerProcess(tmp_path / "a", **traits), ServerProcess(tmp_path / "b", **traits)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def read_events(client: httpx.Client, url: str, last: int | None = None, stop_after: int | None = None):
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    events = []
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        for event in sse_events(response.iter_lines()):
            events.append(event)
            if event["event"] == "final" or (stop_after and len(events) >= stop_after):
                break
    return events


def text_of(events, start=""):
    return rebuild([SSEEvent(e["id"], e["event"], e["data"]) for e in events], start)


def test_start_on_a_resume_on_b(pair):
    a, b = pair
    with httpx.Client(headers=a.headers, timeout=30) as client:
        conv = client.post(a.url("conversations"), json={}).json()
        sent = client.post(
            a.url(f"conversations/{conv['id']}/messages"), json={"content": f"/repeat 400 {PIECE}"}
        ).json()
        first = read_events(client, a.url(f"streams/{sent['stream_id']}/events"), last=0, stop_after=150)
        assert [e["id"] for e in first] == list(range(1, 151))
        status = client.get(b.url(f"conversations/{conv['id']}/stream")).json()
        assert status["active"] and status["stream_id"] == sent["stream_id"]
        rest = read_events(client, b.url(f"streams/{sent['stream_id']}/events"), last=150)
        assert rest[0]["id"] == 151 and rest[-1]["event"] == "final"
        assert text_of(first) + text_of(rest) == PIECE * 400
        late = read_events(client, b.url(f"streams/{sent['stream_id']}/events"))
        assert late[0]["event"] == "snapshot" and text_of(late) == PIECE * 400
        on_b = client.get(b.url(f"conversations/{conv['id']}/messages")).json()["messages"]
        assert on_b[1]["content"] == PIECE * 400 and on_b[1]["status"] == "complete"
        again = client.post(b.url(f"conversations/{conv['id']}/messages"), json={"content": "x"})
        assert again.status_code == 202  # the first reply is over: a new one may start on B


def test_one_generation_per_conversation_across_servers(pair):
    a, b = pair
    with httpx.Client(headers=a.headers, timeout=30) as client:
        conv = client.post(a.url("conversations"), json={}).json()
        sent = client.post(
            a.url(f"conversations/{conv['id']}/messages"), json={"content": "/pace 0.01 /repeat 1000 x"}
        ).json()
        busy = client.post(b.url(f"conversations/{conv['id']}/messages"), json={"content": "y"})
        assert busy.status_code == 409 and busy.json()["stream_id"] == sent["stream_id"]
        client.post(b.url(f"streams/{sent['stream_id']}/abort"))


def test_abort_from_b(pair):
    a, b = pair
    with httpx.Client(headers=a.headers, timeout=30) as client:
        conv = client.post(a.url("conversations"), json={}).json()
        sent = client.post(
            a.url(f"conversations/{conv['id']}/messages"), json={"content": "/pace 0.01 /repeat 2000 ab"}
        ).json()
        seen = read_events(client, a.url(f"streams/{sent['stream_id']}/events"), last=0, stop_after=20)
        aborted = client.post(b.url(f"streams/{sent['stream_id']}/abort"))
        assert aborted.status_code == 200, aborted.text
        message = aborted.json()
        assert message["status"] == "aborted" and message["content"].startswith(text_of(seen))
        assert len(message["content"]) < 4000
        on_a = client.get(a.url(f"conversations/{conv['id']}/messages")).json()["messages"][1]
        assert on_a["status"] == "aborted" and on_a["content"] == message["content"]


def test_b_adopts_the_reply_when_a_dies(pair):
    a, b = pair
    with httpx.Client(headers=a.headers, timeout=30) as client:
        conv = client.post(a.url("conversations"), json={}).json()
        sent = client.post(
            a.url(f"conversations/{conv['id']}/messages"), json={"content": "/pace 0.01 /repeat 5000 ab"}
        ).json()
        seen = read_events(client, a.url(f"streams/{sent['stream_id']}/events"), last=0, stop_after=30)
        a.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        rest = read_events(client, b.url(f"streams/{sent['stream_id']}/events"), last=seen[-1]["id"])
        adopted_after = time.monotonic() - killed_at
        final = rest[-1]
        assert final["event"] == "final" and final["data"]["message"]["status"] == "interrupted"
        content = final["data"]["message"]["content"]
        assert content == text_of(seen) + text_of(rest) and content.startswith("ab" * 30)
        assert adopted_after < 1.0 + 3.0  # the lease, plus a few supervisor ticks
        stored = client.get(b.url(f"conversations/{conv['id']}/messages")).json()["messages"][1]
        assert stored["status"] == "interrupted" and stored["content"] == content
