"""A run that waits, where the wait goes wrong (docs/protocol.md#agent-runs): nobody
decides within ``tool_wait_timeout``; the server that committed a decision dies
before it continues the run; the database is cut while a decision comes in.

On PostgreSQL reached through a TCP link the test can cut (memory streams).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.test_agent_runs import awaiting, calls_of, decide, final_of
from tests.support.fixtures import through_proxy
from tests.support.tcp_proxy import TcpProxy

WRITE = '/tool file_write {"path": "w.txt", "content": "x"}'


@pytest.fixture
def resumechat_config(resumechat_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **resumechat_config,
        "owner_lease": 1.0,  # the supervisor looks at waiting runs every half lease
        "tool_wait_timeout": 2.0,
    }


async def test_a_run_nobody_decides_ends_interrupted_with_its_calls_cancelled(api, jp_root_dir: Path):
    conv = await api.conversation()
    await api.send(conv["id"], WRITE, tools="all")
    await awaiting(api, conv["id"])
    final = await final_of(api, conv["id"])
    assert final["status"] == "interrupted" and final["error"]["type"] == "tool_wait_timeout"
    assert calls_of(final)[0]["status"] == "cancelled"
    assert not (jp_root_dir / "w.txt").exists()
    assert (await api.request("GET", f"conversations/{conv['id']}/stream")).json()["active"] is False


async def test_a_decision_committed_by_a_server_that_died_before_continuing_is_picked_up(
    api, backend: dict[str, Any], jp_root_dir: Path
):
    """Exactly here: the decision is in the database, and no server continues the run
    (the one that committed it died). Another server's supervisor does."""
    conv = await api.conversation()
    await api.send(conv["id"], WRITE, tools="all")
    await awaiting(api, conv["id"])
    call_id = calls_of((await api.messages(conv["id"]))[-1])[0]["id"]
    engine = create_async_engine(backend["db_url"])
    try:
        async with engine.begin() as conn:  # what the dead server's commit left
            await conn.execute(
                text(
                    "UPDATE resumechat_tool_calls SET status = 'approved', decision = 'approve', "
                    "decided_at = CURRENT_TIMESTAMP "
                    "WHERE id = :id AND status = 'awaiting_approval'"
                ),
                {"id": call_id},
            )
    finally:
        await engine.dispose()
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete" and calls_of(final)[0]["status"] == "done"
    assert (jp_root_dir / "w.txt").read_text() == "x"


@pytest.fixture
def backend(request: Any, proxy: TcpProxy) -> dict[str, Any]:
    """PostgreSQL reached through a link the test can cut; memory streams."""
    url = request.getfixturevalue("postgres_url")
    return {"db_url": through_proxy(url, proxy)}


async def test_a_decision_while_the_database_is_cut_is_refused_then_taken_once_it_is_back(
    api, proxy: TcpProxy, jp_root_dir: Path
):
    conv = await api.conversation()
    sent = await api.send(conv["id"], WRITE, tools="all")
    await awaiting(api, conv["id"])
    call_id = calls_of((await api.messages(conv["id"]))[-1])[0]["id"]
    proxy.cut()
    refused = await decide(api, sent["stream_id"], call_id, "approve")
    assert refused.status_code == 503 and refused.json()["error"] == "unavailable"
    assert not (jp_root_dir / "w.txt").exists()
    proxy.restore()
    approved = await decide(api, sent["stream_id"], call_id, "approve")
    assert approved.status_code == 200, approved.text
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete" and (jp_root_dir / "w.txt").read_text() == "x"
