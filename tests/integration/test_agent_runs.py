"""Runs with tools on a real server (docs/protocol.md#agent-runs), on memory+SQLite and
Redis+PostgreSQL: calls committed before they are announced, decisions that win
once, runs that wait with no task and go on when decided, page calls with one
claimant, Stop, and the bounds (bad arguments, max_tool_rounds).

The model is the offline demo agent: ``/tool NAME {json}`` lines make it call
tools, ``/then`` starts its next round, and once every round is done it answers
with what each call returned (so the model's reading of results shows in its text).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import rebuild


@pytest.fixture
def resumechat_config(resumechat_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **resumechat_config,
        "owner_lease": 2.0,
        "max_tool_rounds": 3,
    }


def calls_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [part["call"] for part in message.get("parts", []) if part["type"] == "tool"]


async def status(api: Any, cid: str) -> dict[str, Any]:
    return (await api.request("GET", f"conversations/{cid}/stream")).json()


async def until(check: Any, timeout: float = 20.0) -> Any:
    """Poll ``check`` (a coroutine function) until it answers something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def awaiting(api: Any, cid: str) -> dict[str, Any]:
    """The stream status once the run waits for something."""

    async def check() -> dict[str, Any] | None:
        found = await status(api, cid)
        return found if found["awaiting"] else None

    return await until(check)


async def decide(api: Any, sid: str, call_id: str, decision: str, **body: Any) -> Any:
    return await api.request(
        "POST", f"streams/{sid}/tools/{call_id}/decision", json={"decision": decision, **body}
    )


async def final_of(api: Any, cid: str) -> dict[str, Any]:
    """The reply once it ended, following it across streams."""

    async def check() -> dict[str, Any] | None:
        reply = (await api.messages(cid))[-1]
        return reply if reply["status"] != "streaming" else None

    return await until(check)


async def test_a_read_runs_at_once_and_the_model_reads_its_result(api, jp_root_dir: Path):
    (jp_root_dir / "sales.csv").write_text("month,revenue\n")
    conv = await api.conversation()
    sent = await api.send(conv["id"], '/tool file_read {"path": "sales.csv"}', tools="all")
    read = await api.events(sent["stream_id"])
    final = read.events[-1].data["message"]
    assert final["status"] == "complete"
    (call,) = calls_of(final)
    assert call["name"] == "file_read" and call["status"] == "done" and call["runs_on"] == "server"
    assert call["result"] == {"content": "month,revenue\n", "truncated": False}
    assert "`file_read` answered: month,revenue" in final["content"]
    # the stream told every move, each the whole call, in the order committed
    moves = [e.data["call"]["status"] for e in read.events if e.event == "tool"]
    assert moves == ["approved", "running", "done"]
    assert rebuild(read.events) == final["content"]
    # content is the text parts joined; GET messages shows the same parts
    assert "".join(p["text"] for p in final["parts"] if p["type"] == "text") == final["content"]
    assert (await api.messages(conv["id"]))[-1]["parts"] == final["parts"]


async def test_a_write_waits_for_approval_then_runs_once(api, jp_root_dir: Path):
    conv = await api.conversation()
    prompt = '/tool file_write {"path": "note.txt", "content": "hello"}'
    sent = await api.send(conv["id"], prompt, tools=["file_write"])
    waiting = await awaiting(api, conv["id"])
    assert waiting["awaiting"] == "approval" and waiting["active"]
    # a reader that attaches now gets the run so far in its snapshot
    first = await api.events(sent["stream_id"], stop_after=1)
    (call,) = calls_of(first.events[0].data)
    assert call["status"] == "awaiting_approval" and call["arguments"] == {
        "path": "note.txt",
        "content": "hello",
    }
    assert not (jp_root_dir / "note.txt").exists()
    stored = (await api.messages(conv["id"]))[-1]
    assert stored["status"] == "streaming" and calls_of(stored)[0]["status"] == "awaiting_approval"

    approved = await decide(api, sent["stream_id"], call["id"], "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["decision"]["decision"] == "approve"
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete"
    (done,) = calls_of(final)
    assert done["status"] == "done", done["error"]
    assert done["result"]["content"] == "wrote 5 bytes to note.txt"
    assert (jp_root_dir / "note.txt").read_text() == "hello"
    # the same decision again changes nothing; the other one is refused with the call
    again = await decide(api, sent["stream_id"], call["id"], "approve")
    assert again.status_code == 200 and again.json()["status"] == "done"
    other = await decide(api, sent["stream_id"], call["id"], "deny")
    assert other.status_code == 409 and other.json()["error"] == "decided"
    assert other.json()["call"]["status"] == "done"


async def test_a_denied_call_never_runs_and_the_model_is_told(api, jp_root_dir: Path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], '/tool file_write {"path": "no.txt", "content": "x"}', tools="all")
    await awaiting(api, conv["id"])
    call_id = calls_of((await api.messages(conv["id"]))[-1])[0]["id"]
    denied = await decide(api, sent["stream_id"], call_id, "deny", note="not today")
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete"
    assert calls_of(final)[0]["status"] == "denied"
    assert "`file_write` failed: The user denied this call. Their note: not today" in final["content"]
    assert not (jp_root_dir / "no.txt").exists()


async def test_always_for_this_conversation_approves_the_next_call_by_itself(api, jp_root_dir: Path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], '/tool file_write {"path": "a.txt", "content": "1"}', tools="all")
    await awaiting(api, conv["id"])
    call_id = calls_of((await api.messages(conv["id"]))[-1])[0]["id"]
    assert (await decide(api, sent["stream_id"], call_id, "approve", note="always")).status_code == 200
    await final_of(api, conv["id"])
    listed = (await api.request("GET", f"tools?conversation={conv['id']}")).json()["tools"]
    assert {t["name"]: t["approval"] for t in listed}["file_write"] == "auto"
    elsewhere = (await api.request("GET", "tools")).json()["tools"]
    assert {t["name"]: t["approval"] for t in elsewhere}["file_write"] == "ask"

    second = await api.send(conv["id"], '/tool file_write {"path": "b.txt", "content": "2"}', tools="all")
    final = await api.wait_final(second["stream_id"])
    assert final["status"] == "complete" and calls_of(final)[0]["status"] == "done"
    assert (jp_root_dir / "b.txt").read_text() == "2"


async def test_stop_while_waiting_cancels_the_call_and_ends_the_reply_aborted(api, jp_root_dir: Path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], '/tool file_write {"path": "s.txt", "content": "x"}', tools="all")
    await awaiting(api, conv["id"])
    stopped = await api.request("POST", f"streams/{sent['stream_id']}/abort")
    assert stopped.status_code == 200, stopped.text
    message = stopped.json()
    assert message["status"] == "aborted" and calls_of(message)[0]["status"] == "cancelled"
    assert (await status(api, conv["id"]))["active"] is False
    late = await decide(api, sent["stream_id"], calls_of(message)[0]["id"], "approve")
    assert late.status_code == 409 and late.json()["error"] == "ended"
    assert not (jp_root_dir / "s.txt").exists()
    assert (await api.messages(conv["id"]))[-1]["status"] == "aborted"


async def test_bad_arguments_and_unknown_tools_are_told_to_the_model_not_run(api):
    conv = await api.conversation()
    prompt = '/tool file_read {"path": 7}\n/tool no_such_tool {}\n/tool file_read not json'
    sent = await api.send(conv["id"], prompt, tools="all")
    final = await api.wait_final(sent["stream_id"])
    assert final["status"] == "complete"
    errors = [(c["status"], c["error"]["type"]) for c in calls_of(final)]
    assert errors == [("error", "bad_arguments"), ("error", "unknown_tool"), ("error", "bad_arguments")]
    assert final["content"].count("failed: error (") == 3


async def test_a_run_stops_after_max_tool_rounds_model_calls(api):
    conv = await api.conversation()
    rounds = "\n/then\n".join(["/tool file_list {}"] * 4)
    sent = await api.send(conv["id"], rounds, tools="all")
    final = await api.wait_final(sent["stream_id"])
    assert final["status"] == "error" and final["error"]["type"] == "max_tool_rounds"
    assert len(calls_of(final)) == 3  # three model calls, each with its call, then no fourth


async def test_a_page_call_has_one_claimant_whose_result_continues_the_run(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/tool kernel_variables {}", tools="all")
    waiting = await awaiting(api, conv["id"])
    assert waiting["awaiting"] == "page"
    (call,) = calls_of((await api.messages(conv["id"]))[-1])
    assert call["runs_on"] == "page" and call["status"] == "approved"
    path = f"streams/{sent['stream_id']}/tools/{call['id']}"
    before = (await status(api, conv["id"]))["last_event_id"]
    first = await api.request("POST", f"{path}/claim", json={"client_id": "tab-1"})
    assert first.status_code == 200 and first.json()["lease_seconds"] > 0
    assert (await api.request("POST", f"{path}/claim", json={"client_id": "tab-1"})).status_code == 200
    # the claim is news to every view, once; a renewal is not
    told = await asyncio.wait_for(api.events(sent["stream_id"], last_id=before, stop_after=1), 20)
    assert [(e.event, e.data["call"]["status"], e.data["call"]["claimed_by"]) for e in told.events] == [
        ("tool", "running", "tab-1")
    ]
    assert (await status(api, conv["id"]))["last_event_id"] == before + 1
    second = await api.request("POST", f"{path}/claim", json={"client_id": "tab-2"})
    assert second.status_code == 409 and second.json()["error"] == "claimed"
    stranger = await api.request("POST", f"{path}/result", json={"client_id": "tab-2", "content": "x"})
    assert stranger.status_code == 409
    result = await api.request(
        "POST", f"{path}/result", json={"client_id": "tab-1", "content": "df: DataFrame"}
    )
    assert result.status_code == 200 and result.json()["status"] == "done"
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete" and "`kernel_variables` answered: df: DataFrame" in final["content"]
    same = await api.request(
        "POST", f"{path}/result", json={"client_id": "tab-1", "content": "df: DataFrame"}
    )
    assert same.status_code == 200


async def test_tools_are_listed_with_their_approval_and_a_send_names_only_known_ones(api):
    listed = (await api.request("GET", "tools")).json()["tools"]
    by_name = {t["name"]: t for t in listed}
    assert by_name["file_read"]["approval"] == "auto" and by_name["file_write"]["approval"] == "ask"
    assert (
        by_name["notebook_run_cell"]["runs_on"] == "page"
        and by_name["notebook_run_cell"]["effect"] == "execute"
    )
    conv = await api.conversation()
    refused = await api.request(
        "POST", f"conversations/{conv['id']}/messages", json={"content": "hi", "tools": ["rm_rf"]}
    )
    assert refused.status_code == 400 and "rm_rf" in refused.json()["detail"]
    bad = await api.request(
        "POST", f"conversations/{conv['id']}/messages", json={"content": "hi", "tools": 3}
    )
    assert bad.status_code == 400
    plain = await api.send(conv["id"], "/tool file_list {}")  # no tools: the text is just text
    final = await api.wait_final(plain["stream_id"])
    assert "parts" not in final and final["status"] == "complete"


async def test_decisions_on_unknown_calls_and_bad_bodies_are_clear_errors(api):
    assert (await decide(api, "s1", "nope", "approve")).status_code == 404
    bad = await api.request("POST", "streams/s1/tools/nope/decision", json={"decision": "maybe"})
    assert bad.status_code == 400
    bad = await api.request("POST", "streams/s1/tools/nope/claim", json={})
    assert bad.status_code == 400
    garbage = await api.request("POST", "streams/s1/tools/nope/result", content=b"{not json")
    assert garbage.status_code == 400


async def test_ten_thousand_characters_of_arguments_arrive_whole(api, jp_root_dir: Path):
    text = "x" * 10_000
    conv = await api.conversation()
    body = json.dumps({"path": "big.txt", "content": text})
    sent = await api.send(conv["id"], f"/tool file_write {body}", tools="all")
    await awaiting(api, conv["id"])
    call = calls_of((await api.messages(conv["id"]))[-1])[0]
    assert call["arguments"]["content"] == text
    assert (await decide(api, sent["stream_id"], call["id"], "approve")).status_code == 200
    # the whole run, from its first event: the arguments streamed as they formed, under
    # the call's id, before the call itself was announced
    read = await api.events(sent["stream_id"], last_id=0)
    assert read.events[-1].event == "final"
    pieces = [e for e in read.events if e.event == "delta" and "tool_arguments" in e.data]
    assert {e.data["tool_arguments"]["call_id"] for e in pieces} == {call["id"]}
    assert json.loads("".join(e.data["tool_arguments"]["text"] for e in pieces)) == json.loads(body)
    first_tool = next(i for i, e in enumerate(read.events) if e.event == "tool")
    assert all(read.events.index(e) < first_tool for e in pieces)
    assert rebuild(read.events) == read.events[-1].data["message"]["content"]
    assert (jp_root_dir / "big.txt").read_text() == text


async def test_the_python_client_follows_a_run_and_approves_what_waits(api, jp_serverapp, jp_root_dir: Path):
    from jupyter_resumechat.client import Client
    from jupyter_resumechat.models import EventKind

    client = Client(api.base, jp_serverapp.identity_provider.token)
    try:
        conv = await client.create_conversation()
        sent = await client.send(conv.id, '/tool file_write {"path": "c.txt", "content": "ok"}', tools="all")
        seen: list[str] = []
        async for event in client.stream(
            sent.stream_id, conversation_id=conv.id, message_id=sent.assistant_message.id
        ):
            if event.kind is EventKind.TOOL:
                assert event.call is not None
                seen.append(event.call.status)
                if event.call.status == "awaiting_approval":
                    ((stream_id, waiting),) = await client.pending(conv.id)
                    assert waiting.id == event.call.id and stream_id == sent.stream_id
                    approved = await client.approve(stream_id, waiting.id)
                    assert approved.status == "approved"
            if event.kind is EventKind.FINAL:
                assert event.message is not None and event.message.status.value == "complete"
                break
        assert seen == ["awaiting_approval", "approved", "running", "done"]
        assert (jp_root_dir / "c.txt").read_text() == "ok"
        assert await client.pending(conv.id) == []
        from jupyter_resumechat.errors import CallConflict

        try:
            await client.deny(sent.stream_id, waiting.id)
        except CallConflict as conflict:
            assert (
                conflict.code == "decided" and conflict.call is not None and conflict.call["status"] == "done"
            )
        else:
            raise AssertionError("a second, different decision must be refused")
        tools = {t["name"] for t in await client.tools()}
        assert {"file_read", "file_write", "notebook_run_cell"} <= tools
    finally:
        await client.aclose()


async def test_a_big_result_is_cut_saying_so_and_counted_in_the_window(api, jp_root_dir: Path):
    (jp_root_dir / "big.csv").write_text("y" * 50_000)
    conv = await api.conversation()
    sent = await api.send(conv["id"], '/tool file_read {"path": "big.csv"}', tools="all")
    final = await api.wait_final(sent["stream_id"])
    (call,) = calls_of(final)
    assert call["result"]["truncated"] is True and len(call["result"]["content"]) <= 20_000
    assert "[… cut: the first 19,953 of 50,000 characters]" in call["result"]["content"]
    # the model read the result: the window it was sent counts it (about a token per 4 bytes)
    assert final["window"]["tokens"] >= 20_000 // 4


async def test_a_decision_that_leaves_the_run_waiting_is_announced_to_every_view(api):
    conv = await api.conversation()
    prompt = '/tool file_write {"path": "a.txt", "content": "1"}\n/tool file_write {"path": "b.txt", "content": "2"}'
    sent = await api.send(conv["id"], prompt, tools="all")
    await awaiting(api, conv["id"])
    first, second = calls_of((await api.messages(conv["id"]))[-1])
    before = (await status(api, conv["id"]))["last_event_id"]
    assert (await decide(api, sent["stream_id"], first["id"], "deny")).status_code == 200
    # a view attached before reads the decision next; one attaching now sees it in the snapshot
    read = await asyncio.wait_for(api.events(sent["stream_id"], last_id=before, stop_after=1), 20)
    assert [(e.event, e.data["call"]["id"], e.data["call"]["status"]) for e in read.events] == [
        ("tool", first["id"], "denied")
    ]
    snapshot = (await api.events(sent["stream_id"], stop_after=1)).events[0].data
    assert [p["call"]["status"] for p in snapshot["parts"] if p["type"] == "tool"] == [
        "denied",
        "awaiting_approval",
    ]
    assert (await decide(api, sent["stream_id"], second["id"], "approve")).status_code == 200
    final = await final_of(api, conv["id"])
    assert [c["status"] for c in calls_of(final)] == ["denied", "done"]


async def test_continue_after_max_tool_rounds_makes_more_model_calls(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "\n/then\n".join(["/tool file_list {}"] * 4), tools="all")
    final = await api.wait_final(sent["stream_id"])
    assert final["error"]["type"] == "max_tool_rounds" and "Continue" in final["error"]["detail"]
    answer = await api.request("POST", f"conversations/{conv['id']}/messages", json={"continue": final["id"]})
    assert answer.status_code == 202, answer.text
    again = await api.wait_final(answer.json()["stream_id"])
    assert again["status"] == "complete" and len(calls_of(again)) == 4, again["error"]


@pytest.mark.parametrize("escape", ["\\ud800", "\\u0000"])
async def test_text_no_store_can_keep_in_arguments_does_not_kill_the_run(api, escape: str):
    conv = await api.conversation()
    await api.send(conv["id"], '/tool file_read {"path": "a' + escape + '.txt"}', tools="all")
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete", (final["error"], calls_of(final))
    assert calls_of(final)[0]["arguments"]["path"] == "a\ufffd.txt"


async def test_a_result_with_a_nul_character_is_kept_as_text_a_store_takes(api, jp_root_dir: Path):
    (jp_root_dir / "nul.txt").write_text("a\x00b\n")
    conv = await api.conversation()
    await api.send(conv["id"], '/tool file_read {"path": "nul.txt"}', tools="all")
    final = await final_of(api, conv["id"])
    assert final["status"] == "complete", (final["error"], calls_of(final))
    assert calls_of(final)[0]["result"]["content"] == "a\ufffdb\n"
