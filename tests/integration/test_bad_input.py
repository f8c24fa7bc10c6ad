"""Bad, hostile or unauthenticated requests: a clear 4xx JSON error, never a 500."""

from __future__ import annotations

import httpx
import pytest

ENDPOINTS = [
    ("GET", "conversations"),
    ("POST", "conversations"),
    ("GET", "conversations/{cid}"),
    ("PATCH", "conversations/{cid}"),
    ("DELETE", "conversations/{cid}"),
    ("GET", "conversations/{cid}/messages"),
    ("POST", "conversations/{cid}/messages"),
    ("GET", "conversations/{cid}/stream"),
    ("GET", "streams/{sid}/events"),
    ("POST", "streams/{sid}/abort"),
    ("GET", "models"),
    ("GET", "openapi.json"),
]


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["error"], str) and isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["error"] == code
    return body


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_every_endpoint_needs_credentials(api, method, path):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "hello")
    url = api.url(path.format(cid=conv["id"], sid=sent["stream_id"]))
    async with httpx.AsyncClient() as anonymous:
        response = await anonymous.request(method, url, json={"content": "x", "title": "x"})
        assert_error(response, 403)
        wrong = await anonymous.request(method, url, headers={"Authorization": "token wrong"})
        assert_error(wrong, 403)
    assert len(await api.messages(conv["id"])) == 2  # nothing was added


async def test_cookie_writes_need_xsrf(api, jp_serverapp):
    """A browser session (cookie, no token) must send the _xsrf token to write."""
    token = jp_serverapp.identity_provider.token
    async with httpx.AsyncClient() as browser:
        await browser.get(api.base + f"api/status?token={token}")  # sets the login cookie
        await browser.get(api.base)  # sets the _xsrf cookie, as a page load does
        xsrf = browser.cookies.get("_xsrf")
        assert xsrf
        read = await browser.get(api.url("conversations"))
        assert read.status_code == 200, read.text
        write = await browser.post(api.url("conversations"), json={"title": "x"})
        assert_error(write, 403)
        ok = await browser.post(api.url("conversations"), json={"title": "x"}, headers={"X-XSRFToken": xsrf})
        assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("body", [b"{bad", b"[1, 2]", b'"text"', b"\xff\xfe", b"nul\x00l", b"12"])
@pytest.mark.parametrize("path", ["conversations", "conversations/{cid}/messages"])
async def test_malformed_json(api, body, path):
    conv = await api.conversation()
    response = await api.request(
        "POST", path.format(cid=conv["id"]), content=body, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": None},
        {"content": 5},
        {"content": ["x"]},
        {"content": ""},
        {"content": "   "},
        {"content": "x", "model": 3},
        {"content": "x", "client_id": {"a": 1}},
        {"content": "x", "model": "no-such-model"},
        {"content": "x", "context": "cell 3"},
        {"content": "x", "context": [{"kind": "bogus", "name": "n", "content": "c"}]},
        {"content": "x", "context": [{"kind": "cell", "name": 3, "content": "c"}]},
        {"content": "x", "context": [{"kind": "cell", "name": "n"}]},
        {"content": "x", "context": [{"kind": "cell", "name": "n", "content": "c"}] * 21},
    ],
)
async def test_send_with_wrong_fields(api, body):
    conv = await api.conversation()
    assert_error(await api.request("POST", f"conversations/{conv['id']}/messages", json=body), 400)
    assert await api.messages(conv["id"]) == []


@pytest.mark.parametrize("body", [{"title": 1}, {"key": ["k"]}, {"title": "t" * 1001}])
async def test_create_with_wrong_fields(api, body):
    assert_error(await api.request("POST", "conversations", json=body), 400)


@pytest.mark.parametrize("body", [{}, {"title": None}, {"title": 7}])
async def test_rename_with_wrong_fields(api, body):
    conv = await api.conversation()
    assert_error(await api.request("PATCH", f"conversations/{conv['id']}", json=body), 400)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=-1", "limit=abc", "limit=501", "before=yesterday", "limit=%D9%A3"]
)
async def test_list_with_bad_query(api, query):
    assert_error(await api.request("GET", f"conversations?{query}"), 400)


async def test_too_large_message_is_413_and_adds_nothing(api, extension):
    conv = await api.conversation()
    limit = extension.manager.settings.max_message_chars
    response = await api.request(
        "POST", f"conversations/{conv['id']}/messages", json={"content": "é" * (limit + 1)}
    )
    assert_error(response, 413, "too_large")
    huge = await api.request("POST", "conversations", content=b'{"title": "' + b"a" * (limit * 7) + b'"}')
    assert_error(huge, 413)
    assert await api.messages(conv["id"]) == []
    assert (
        await api.request("POST", f"conversations/{conv['id']}/messages", json={"content": "é" * limit})
    ).status_code == 202


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "conversations/nope"),
        ("PATCH", "conversations/nope"),
        ("DELETE", "conversations/nope"),
        ("GET", "conversations/nope/messages"),
        ("POST", "conversations/nope/messages"),
        ("GET", "streams/nope/events"),
        ("POST", "streams/nope/abort"),
        ("GET", "conversations/" + "x" * 500),
    ],
)
async def test_unknown_ids_are_404(api, method, path):
    body = {"content": "x", "title": "t"} if method in {"POST", "PATCH"} else None
    assert_error(await api.request(method, path, json=body), 404, "not_found")


async def test_undecodable_path_is_a_json_400(api):
    assert_error(await api.request("GET", "streams/%00%ff/events"), 400)


@pytest.mark.parametrize("last_id", ["abc", "-5", "1.5", "99999999999999999999"])
async def test_bad_last_event_id(api, last_id):
    conv = await api.conversation()
    sent = await api.send(conv["id"], "hi")
    header = await api.request(
        "GET", f"streams/{sent['stream_id']}/events", headers={"Last-Event-ID": last_id}
    )
    assert_error(header, 400)
    query = await api.request("GET", f"streams/{sent['stream_id']}/events", params={"last_event_id": last_id})
    assert_error(query, 400)


async def test_api_key_never_appears_in_answers(api, extension):
    assert extension.api_key == "" or extension.api_key not in (await api.request("GET", "models")).text


async def test_the_per_user_cap_answers_429(api, extension):
    extension.manager.settings = type(extension.manager.settings)(
        **{**extension.manager.settings.__dict__, "max_active_per_user": 1}
    )
    first, second = await api.conversation(), await api.conversation()
    running = await api.send(first["id"], "/pace 0.01 /repeat 500 x")
    refused = await api.request("POST", f"conversations/{second['id']}/messages", json={"content": "y"})
    assert_error(refused, 429, "too_many_generations")
    assert await api.messages(second["id"]) == []
    await api.request("POST", f"streams/{running['stream_id']}/abort")
    assert (
        await api.request("POST", f"conversations/{second['id']}/messages", json={"content": "y"})
    ).status_code == 202


def test_widget_state_holds_no_secret(monkeypatch):
    from jupyter_resumechat.widget import ChatPanel

    monkeypatch.setenv("JUPYTER_RESUMECHAT_TOKEN", "server-token-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    state = ChatPanel("notes").get_state()
    assert "secret" not in repr(state)
    assert {"conversation_key", "conversation_id", "title", "model"} <= set(state)
