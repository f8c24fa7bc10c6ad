"""Every row of docs/protocol.md#api against a real Jupyter server over real HTTP."""

from __future__ import annotations

import asyncio


async def test_conversations_crud(api):
    created = await api.request("POST", "conversations", json={"title": "Mine"})
    assert created.status_code == 201
    conv = created.json()
    assert set(conv) == {"id", "key", "title", "created_at", "updated_at"}
    assert conv["title"] == "Mine" and conv["key"] is None and conv["created_at"].endswith("Z")

    keyed = await api.request("POST", "conversations", json={"key": "work/nb.ipynb"})
    again = await api.request("POST", "conversations", json={"key": "work/nb.ipynb", "title": "x"})
    assert (keyed.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == keyed.json()["id"]

    listed = (await api.request("GET", "conversations")).json()["conversations"]
    assert [c["id"] for c in listed] == [keyed.json()["id"], conv["id"]]
    one = (await api.request("GET", "conversations?limit=1")).json()["conversations"]
    assert len(one) == 1
    before = (await api.request("GET", "conversations", params={"before": one[0]["updated_at"]})).json()
    assert [c["id"] for c in before["conversations"]] == [conv["id"]]

    got = await api.request("GET", f"conversations/{conv['id']}")
    assert got.status_code == 200 and got.json() == conv
    patched = await api.request("PATCH", f"conversations/{conv['id']}", json={"title": "Renamed"})
    assert patched.status_code == 200 and patched.json()["title"] == "Renamed"

    deleted = await api.request("DELETE", f"conversations/{conv['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await api.request("GET", f"conversations/{conv['id']}")).status_code == 404
    assert (await api.request("GET", f"conversations/{conv['id']}/messages")).status_code == 404


async def test_send_stream_and_messages(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "Hello there")
    assert set(sent) == {"user_message", "assistant_message", "stream_id"}
    user, reply = sent["user_message"], sent["assistant_message"]
    assert (user["role"], user["status"], user["content"]) == ("user", "complete", "Hello there")
    assert (reply["role"], reply["status"], reply["model"]) == ("assistant", "streaming", "demo")

    read = await api.events(sent["stream_id"])
    assert read.status == 200
    assert read.headers["content-type"].startswith("text/event-stream")
    assert read.headers["cache-control"] == "no-cache"
    assert read.headers["x-accel-buffering"] == "no"
    assert read.retry is not None and read.retry > 0
    final = read.events[-1]
    assert final.event == "final" and final.data["message"]["status"] == "complete"
    assert read.text == final.data["message"]["content"] and "demo model" in read.text
    ids = [e.id for e in read.events]
    assert ids == list(range(ids[0], ids[0] + len(ids)))

    messages = await api.messages(conv["id"])
    assert [m["id"] for m in messages] == [user["id"], reply["id"]]
    assert messages[1]["content"] == read.text and messages[1]["status"] == "complete"


async def test_stream_status_while_active_and_after(api):
    conv = await api.conversation()
    idle = (await api.request("GET", f"conversations/{conv['id']}/stream")).json()
    assert idle == {
        "active": False,
        "stream_id": None,
        "message_id": None,
        "last_event_id": 0,
        "started_at": None,
        "awaiting": None,
    }
    sent = await api.send(conv["id"], "/pace 0.01 /repeat 300 x")
    await api.events(sent["stream_id"], last_id=0, stop_after=3)
    status = (await api.request("GET", f"conversations/{conv['id']}/stream")).json()
    assert status["active"] and status["stream_id"] == sent["stream_id"]
    assert status["message_id"] == sent["assistant_message"]["id"]
    assert status["last_event_id"] >= 3 and status["started_at"].endswith("Z")
    live = await api.messages(conv["id"])
    assert live[1]["status"] == "streaming" and live[1]["content"].startswith("xxx")
    await api.wait_final(sent["stream_id"])
    assert (await api.request("GET", f"conversations/{conv['id']}/stream")).json()["active"] is False
    unknown = await api.request("GET", "conversations/nope/stream")
    assert unknown.status_code == 200 and unknown.json()["active"] is False


async def test_one_generation_per_conversation(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/pace 0.01 /repeat 500 x")
    second = await api.request("POST", f"conversations/{conv['id']}/messages", json={"content": "more"})
    assert second.status_code == 409
    assert second.json()["error"] == "generation_active"
    assert second.json()["stream_id"] == sent["stream_id"] and second.json()["detail"]
    other = await api.conversation()
    assert (
        await api.request("POST", f"conversations/{other['id']}/messages", json={"content": "fine"})
    ).status_code == 202
    await api.request("POST", f"streams/{sent['stream_id']}/abort")


async def test_same_client_id_starts_one_generation(api, extension):
    conv = await api.conversation()
    body = {"content": "/pace 0.005 /repeat 100 y", "client_id": "c-123"}
    answers = await asyncio.gather(
        *[api.request("POST", f"conversations/{conv['id']}/messages", json=body) for _ in range(5)]
    )
    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["stream_id"] for a in answers}) == 1
    assert len({a.json()["user_message"]["id"] for a in answers}) == 1
    assert extension.manager.active_jobs == 1
    await api.wait_final(answers[0].json()["stream_id"])
    assert len(await api.messages(conv["id"])) == 2
    later = await api.request("POST", f"conversations/{conv['id']}/messages", json=body)
    assert later.status_code == 202 and later.json()["stream_id"] == answers[0].json()["stream_id"]
    assert later.json()["assistant_message"]["status"] == "complete"


async def test_abort_keeps_and_persists_partial_text(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/pace 0.01 /repeat 1000 é")
    partial = await api.events(sent["stream_id"], last_id=0, stop_after=5)
    aborted = await api.request("POST", f"streams/{sent['stream_id']}/abort")
    assert aborted.status_code == 200
    message = aborted.json()
    assert message["status"] == "aborted" and message["id"] == sent["assistant_message"]["id"]
    assert message["content"].startswith(partial.text) and 5 <= len(message["content"]) < 1000
    stored = (await api.messages(conv["id"]))[1]
    assert stored["status"] == "aborted" and stored["content"] == message["content"]
    rest = await api.events(sent["stream_id"], last_id=5)
    assert rest.events[-1].event == "final" and rest.events[-1].data["message"] == message
    assert partial.text + rest.text == message["content"]
    again = await api.request("POST", f"streams/{sent['stream_id']}/abort")
    assert again.status_code == 200 and again.json()["status"] == "aborted"


async def test_delete_aborts_the_active_stream(api, extension):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/pace 0.01 /repeat 1000 z")
    assert (await api.request("DELETE", f"conversations/{conv['id']}")).status_code == 204
    assert extension.manager.active_jobs == 0
    assert (await api.events(sent["stream_id"])).status == 404


async def test_models(api):
    models = (await api.request("GET", "models")).json()
    assert models["default"] == "demo"
    assert models["models"] == [
        {"id": "demo", "provider": "demo", "label": "Demo model (offline)", "context_tokens": 16384}
    ]


async def test_context_includes_earlier_messages(api):
    conv = await api.conversation()
    for n in (1, 2, 3):
        sent = await api.send(conv["id"], f"turn {n}")
        final = await api.wait_final(sent["stream_id"])
        assert f"(turn {2 * n - 1})" in final["content"]  # the demo model counts the turns it was sent


async def test_reasoning_is_streamed_and_kept(api):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/think weigh the options\nanswer")
    read = await api.events(sent["stream_id"], last_id=0)
    reasoning = "".join(e.data.get("reasoning", "") for e in read.events if e.event == "delta")
    assert reasoning == "weigh the options"
    assert read.events[-1].data["message"]["reasoning"] == "weigh the options"
    assert (await api.messages(conv["id"]))[1]["reasoning"] == "weigh the options"


async def test_openapi_document_is_served(api):
    doc = (await api.request("GET", "openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = set(doc["paths"])
    for path in [
        "/conversations",
        "/conversations/{cid}",
        "/conversations/{cid}/messages",
        "/conversations/{cid}/stream",
        "/streams/{sid}/events",
        "/streams/{sid}/abort",
        "/models",
    ]:
        assert path in paths


async def test_a_reply_carries_its_usage(api):
    """The demo model reports usage as a real endpoint does: the prompt by the documented
    estimate (13 bytes: 4 tokens, and 4 for the message), one token a piece out."""
    conv = await api.conversation()
    sent = await api.send(conv["id"], "/repeat 7 ab ")
    final = await api.wait_final(sent["stream_id"])
    assert final["usage"] == {"input_tokens": 8, "output_tokens": 7}
    assert (await api.messages(conv["id"]))[1]["usage"] == final["usage"]
    assert sent["assistant_message"]["usage"] is None  # unknown while it streams
