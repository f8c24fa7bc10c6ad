"""Agent runs when the database fails exactly at a step's commit (docs/protocol.md#agent-runs,
#persist-before-announce): a step the database did not take is never announced, never acted
on, and the run ends in a state a reload explains, with its text kept.

PostgreSQL through a TCP link the test cuts (memory streams); the model is the local
OpenAI-speaking fake holding the round's finish until the link is cut (``GATED``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_agent_runs import calls_of, final_of, until
from tests.support.fake_openai import GATED, FakeOpenAI
from tests.support.fixtures import through_proxy
from tests.support.sse import sse_events
from tests.support.tcp_proxy import TcpProxy

MCP_SERVER = str(Path(__file__).resolve().parents[1] / "support" / "mcp_server.py")


@pytest.fixture
def resumechat_config(
    resumechat_config: dict[str, Any], request: Any, proxy: TcpProxy, fake_openai: FakeOpenAI, tmp_path: Path
) -> dict[str, Any]:
    url = request.getfixturevalue("postgres_url")
    env = {"NOTES": str(tmp_path / "notes"), "GATE": str(tmp_path / "gate")}
    return {
        **resumechat_config,
        "mcp_servers": {"t": {"command": sys.executable, "args": [MCP_SERVER], "env": env}},
        "db_url": through_proxy(url, proxy),
        "provider": "openai",
        "base_url": fake_openai.url,
        "api_key": "sk-test-0123456789",
        "model": GATED,
        "models": [GATED],
        "provider_max_retries": 0,
    }


async def events_of(api: Any, sid: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the stream from its start, read to its final."""
    answer = await api.request("GET", f"streams/{sid}/events?last_event_id=0")
    return [(event["event"], event["data"]) for event in sse_events(answer.text.splitlines())]


async def test_calls_the_database_did_not_take_are_never_announced_nor_run(
    api, proxy: TcpProxy, fake_openai: FakeOpenAI, jp_root_dir: Path
):
    conv = await api.conversation()
    script = 'CALL file_write {"path": "w.txt", "content": "x"}\nTHEN\nCALL file_read {"path": "w.txt"}'
    sent = await api.send(conv["id"], script, tools="all")
    # the round's call has streamed in whole; its finish waits on the gate
    await until(lambda: _arrived(fake_openai))
    proxy.cut()
    fake_openai.gate.set()  # the round ends: the server commits its call, on a cut link
    refused = proxy.refused
    await until(lambda: _finished_and_tried(fake_openai, proxy, refused))
    proxy.restore()
    final = await final_of(api, conv["id"])
    events = await events_of(api, sent["stream_id"])
    announced = [data["call"]["id"] for kind, data in events if kind == "tool"]
    stored = [call["id"] for call in calls_of(final)]
    assert announced == stored or (not announced and not stored), (announced, stored)
    assert not (jp_root_dir / "w.txt").exists()  # a call nobody approved ran nowhere
    assert final["status"] in {"complete", "error", "interrupted"}, final
    assert final == (await api.messages(conv["id"]))[-1]  # the stream's final is the database's


async def _arrived(fake: FakeOpenAI) -> bool:
    return any(s.model == GATED and s.chunks >= 2 for s in fake.served)


async def _finished_and_tried(fake: FakeOpenAI, proxy: TcpProxy, refused: int) -> bool:
    """The round was sent whole and the server has since tried the database twice (its
    first use after a round is the commit of the round's calls)."""
    return any(s.model == GATED and s.finished for s in fake.served) and proxy.refused >= refused + 2


async def test_a_result_the_database_could_not_take_is_saved_once_it_is_back(
    api, proxy: TcpProxy, fake_openai: FakeOpenAI, tmp_path: Path
):
    """Exactly here: the tool ran, its outcome is known, and the database is cut as the
    server commits it. The outcome cannot be had again, so it is kept until the database
    takes it, and the run goes on; the tool ran once."""
    fake_openai.gate.set()
    notes = tmp_path / "notes"
    conv = await api.conversation()
    await api.send(conv["id"], 'CALL t__gated {"line": "once"}', tools="all")
    await until(lambda: _noted(notes, "gated started"))
    proxy.cut()
    refused = proxy.refused
    (tmp_path / "gate").touch()  # the tool ends now, with the link cut
    await until(lambda: _noted(notes, "once"))
    await until(lambda: _tried(proxy, refused))
    proxy.restore()
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete", final
    call = calls_of(final)[0]
    assert call["status"] == "done" and call["result"]["content"] == "passed once", call
    assert final["content"] == "Results: passed once"
    assert notes.read_text().splitlines().count("once") == 1


async def _noted(notes: Path, text: str) -> bool:
    return notes.exists() and any(line.startswith(text) for line in notes.read_text().splitlines())


async def _tried(proxy: TcpProxy, refused: int) -> bool:
    return proxy.refused >= refused + 2
