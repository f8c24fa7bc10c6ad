"""Runs that call a real MCP server (``tests/support/mcp_server.py``) through the
server's own toolbox: its tools listed with their effect, a call that the Stop
button cancels while it runs, a server that dies mid-call, and one that never
starts, named in health instead of failing the chat (docs/protocol.md#agent-runs).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_agent_runs import awaiting, calls_of, decide, final_of, until

MCP_SERVER = str(Path(__file__).resolve().parents[1] / "support" / "mcp_server.py")


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.touch()
    return path


@pytest.fixture
def resumechat_config(backend: dict[str, Any], notes: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        **backend,
        "demo_delay": 0.001,
        "checkpoint_interval": 0.05,
        "heartbeat_interval": 0.5,
        "mcp_servers": {
            "t": {"command": sys.executable, "args": [MCP_SERVER], "env": {"NOTES": str(notes)}},
            "gone": {"command": str(tmp_path / "no-such-server")},
        },
    }


async def test_mcp_tools_are_offered_by_effect_and_a_dead_server_is_named_in_health(api):
    listed = {t["name"]: t for t in (await api.request("GET", "tools")).json()["tools"]}
    assert listed["t__echo"]["approval"] == "auto" and listed["t__echo"]["source"] == "mcp:t"
    assert listed["t__write_note"]["approval"] == "ask" and listed["t__write_note"]["effect"] == "write"
    assert not any(name.startswith("gone__") for name in listed)
    health = await api.request("GET", "health")
    assert health.status_code == 200, health.text  # a dead MCP server is named, not a 503
    mcp = health.json()["mcp"]
    assert mcp["t"]["ok"] and mcp["t"]["tools"] == 7
    assert mcp["gone"]["ok"] is False and mcp["gone"]["error"]


async def test_stop_during_a_running_mcp_call_cancels_it(api, notes: Path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/tool t__hang {}", tools="all")

    async def running() -> bool:
        return "hang started" in notes.read_text()

    await until(running)
    stopped = await api.request("POST", f"streams/{sent['stream_id']}/abort")
    assert stopped.status_code == 200, stopped.text
    message = stopped.json()
    assert message["status"] == "aborted"
    assert calls_of(message)[0]["status"] == "cancelled"
    # the server's MCP connection still serves the next run
    again = await api.send(conv["id"], '/tool t__echo {"text": "still here"}', tools="all")
    final = await api.wait_final(again["stream_id"])
    assert "answered: echo: still here" in final["content"], final["content"]


async def test_an_mcp_server_that_dies_mid_call_leaves_it_unknown_and_never_resends_it(api, notes: Path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/tool t__die {}", tools="all")
    await awaiting(api, conv["id"])  # it has an effect: it asks first
    call_id = calls_of((await api.messages(conv["id"]))[-1])[0]["id"]
    assert (await decide(api, sent["stream_id"], call_id, "approve")).status_code == 200
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete", final
    (call,) = calls_of(final)
    assert call["status"] == "unknown", call
    assert "`t__die` failed: The outcome of this call is unknown" in final["content"]
    assert notes.read_text().count("die ") == 1
