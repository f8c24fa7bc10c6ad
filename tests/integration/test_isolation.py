"""Per-user isolation (isolate_users): another user's things are 404 to you."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fixtures import Api


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "isolate_users": True}


@pytest.fixture
def jp_server_config(jp_server_config):
    return {
        **jp_server_config,
        "ServerApp": {
            **jp_server_config["ServerApp"],
            "identity_provider_class": "tests.support.identity.TokenPerUser",
        },
    }


@pytest.fixture
def users(api, jp_asyncio_loop):
    clients = {
        name: httpx.AsyncClient(headers={"Authorization": f"token {name}-token"}, timeout=30)
        for name in ("alice", "bob")
    }
    yield {name: Api(client, api.base) for name, client in clients.items()}
    for client in clients.values():
        jp_asyncio_loop.run_until_complete(client.aclose())


async def test_another_user_sees_nothing_of_yours(users):
    alice, bob = users["alice"], users["bob"]
    conv = await alice.conversation(key="notes.ipynb", title="Alice's")
    sent = await alice.send(conv["id"], "/pace 0.01 /repeat 300 a")
    cid, sid = conv["id"], sent["stream_id"]
    for method, path in [
        ("GET", f"conversations/{cid}"),
        ("PATCH", f"conversations/{cid}"),
        ("DELETE", f"conversations/{cid}"),
        ("GET", f"conversations/{cid}/messages"),
        ("POST", f"conversations/{cid}/messages"),
        ("GET", f"streams/{sid}/events"),
        ("POST", f"streams/{sid}/abort"),
    ]:
        body = {"title": "x", "content": "x"} if method in {"PATCH", "POST"} else None
        answer = await bob.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"] == "not_found"
    status = (await bob.request("GET", f"conversations/{cid}/stream")).json()
    assert status["active"] is False
    assert (await bob.request("GET", "conversations")).json()["conversations"] == []
    bobs = await bob.conversation(key="notes.ipynb")
    assert bobs["id"] != cid  # the same key is a different conversation per user
    assert (await alice.request("GET", f"conversations/{cid}/stream")).json()["active"] is True
    final = await alice.wait_final(sid)
    assert final["status"] == "complete" and final["content"] == "a" * 300
    assert [c["id"] for c in (await alice.request("GET", "conversations")).json()["conversations"]] == [cid]


async def test_unknown_token_is_refused(api):
    async with httpx.AsyncClient(headers={"Authorization": "token mallory"}) as mallory:
        assert (await mallory.get(api.url("conversations"))).status_code == 403


async def test_another_users_stream_is_gone_on_a_shared_connection(users):
    alice, bob = users["alice"], users["bob"]
    alices = await alice.send((await alice.conversation())["id"], "/pace 0.01 /repeat 30 a")
    bobs = await bob.send((await bob.conversation())["id"], "/pace 0.01 /repeat 30 b")
    read = await bob.multiplexed({alices["stream_id"]: None, bobs["stream_id"]: 0})
    assert read.gone == {
        alices["stream_id"]: "unknown"
    }  # as its 404: nothing of it, not even that it streams
    assert list(read.events) == [bobs["stream_id"]] and read.text(bobs["stream_id"]) == "b" * 30
