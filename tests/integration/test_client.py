"""The Python client against a real server: every method, cuts, expiry, a real kernel."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from jupyter_resumechat.client import Client, Reply
from jupyter_resumechat.errors import GenerationActive, InvalidRequest, NotFound, ServerError, TooLarge
from jupyter_resumechat.models import EventKind, MessageStatus
from tests.support.kernel import execute, start_kernel

PIECE = "é😀中"


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "stream_ttl": 0.5, "max_message_chars": 1000}


@pytest.fixture
def server_url(api):
    return api.base


@pytest.fixture
def token(jp_serverapp):
    return jp_serverapp.identity_provider.token


class CuttingTransport(httpx.AsyncBaseTransport):
    """Closes event-stream connections after ``after`` bytes, ``cuts`` times."""

    def __init__(self, after: int, cuts: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.after, self.cuts, self.made = after, cuts, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/events") or self.made >= self.cuts:
            return response
        self.made += 1
        return httpx.Response(
            response.status_code, headers=response.headers, stream=_Cut(response, self.after), request=request
        )


class _Cut(httpx.AsyncByteStream):
    def __init__(self, response: httpx.Response, after: int) -> None:
        self.response, self.after = response, after

    async def __aiter__(self):
        seen = 0
        async for chunk in self.response.aiter_raw():
            if seen + len(chunk) > self.after:
                yield chunk[: self.after - seen]
                await self.response.aclose()  # the connection goes away mid-event
                raise httpx.ReadError("connection cut by the test")
            seen += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.response.aclose()


async def test_every_method(server_url, token):
    async with Client(server_url, token) as client:
        conv = await client.create_conversation(title="t", key="k")
        assert (await client.create_conversation(key="k")).id == conv.id
        assert [c.id for c in await client.list_conversations()] == [conv.id]
        assert (await client.get_conversation(conv.id)).title == "t"
        assert (await client.rename_conversation(conv.id, "u")).title == "u"
        models = await client.models()
        assert models.default == "demo" and models.models[0].provider == "demo"
        sent = await client.send(conv.id, "/pace 0.05 /repeat 2000 x", client_id="once")  # aborted below
        assert sent.assistant_message.status is MessageStatus.STREAMING
        assert (await client.send(conv.id, "ignored", client_id="once")).stream_id == sent.stream_id
        with pytest.raises(GenerationActive) as busy:
            await client.send(conv.id, "another")
        assert busy.value.stream_id == sent.stream_id
        status = await client.stream_status(conv.id)
        assert status.active and status.stream_id == sent.stream_id
        aborted = await client.abort(sent.stream_id)
        assert aborted.status is MessageStatus.ABORTED
        reply = await client.ask(conv.id, f"/repeat 3 {PIECE}")
        assert reply.content == PIECE * 3 and reply.status is MessageStatus.COMPLETE
        messages = await client.messages(conv.id)
        assert [m.role.value for m in messages] == ["user", "assistant", "user", "assistant"]
        with pytest.raises(TooLarge):
            await client.send(conv.id, "x" * 1001)
        with pytest.raises(InvalidRequest):
            await client.send(conv.id, "   ")
        await client.delete_conversation(conv.id)
        with pytest.raises(NotFound):
            await client.get_conversation(conv.id)
    async with Client(server_url, "wrong") as stranger:
        with pytest.raises(ServerError) as denied:
            await stranger.models()
        assert denied.value.status == 403


async def test_a_cut_stream_resumes_with_the_exact_text(server_url, token):
    transport = CuttingTransport(after=700, cuts=4)
    async with Client(server_url, token, transport=transport, backoff=0.01) as client:
        conv = await client.create_conversation()
        sent = await client.send(conv.id, f"/pace 0.002 /repeat 300 {PIECE}")
        reply, ids = Reply(), []
        async for event in client.stream(sent.stream_id, last_event_id=0):
            ids.append(event.id)
            reply.apply(event)
        assert transport.made == 4
        assert reply.content == PIECE * 300 == reply.message.content
        assert ids == sorted(set(ids))


async def test_an_expired_stream_ends_with_the_committed_message(server_url, token):
    async with Client(server_url, token) as client:
        conv = await client.create_conversation()
        sent = await client.send(conv.id, f"/pace 0.001 /repeat 50 {PIECE}")
        events = client.stream(
            sent.stream_id, last_event_id=0, conversation_id=conv.id, message_id=sent.assistant_message.id
        )
        reply = Reply()
        reply.apply(await events.__anext__())
        await events.aclose()  # the user goes away…
        while (await client.stream_status(conv.id)).active:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.7)  # …longer than stream_ttl
        resumed = [
            e
            async for e in client.stream(
                sent.stream_id,
                last_event_id=reply.last_id,
                conversation_id=conv.id,
                message_id=sent.assistant_message.id,
            )
        ]
        assert [e.kind for e in resumed] == [EventKind.FINAL] and resumed[0].reloaded
        assert resumed[0].message.content == PIECE * 50
        with pytest.raises(NotFound):
            await client.wait(sent.stream_id)  # without the conversation there is nothing to reload


async def test_a_real_kernel_finds_the_server_and_gets_the_reply(api, jp_auth_header, jp_serverapp):
    kernel = await start_kernel(api.base, jp_auth_header)
    code = (
        "from jupyter_resumechat import SyncClient\n"
        "c = SyncClient.from_kernel()\n"
        "conv = c.create_conversation(key='from-kernel')\n"
        f"m = c.ask(conv.id, '/repeat 5 {PIECE}')\n"
        "print(m.status.value, m.content)\n"
    )
    out, errors = await execute(api.base, jp_auth_header, kernel, code)
    assert not errors, errors
    assert out.strip() == f"complete {PIECE * 5}"
    conv = await api.conversation(key="from-kernel")
    assert (await api.messages(conv["id"]))[1]["content"] == PIECE * 5
    await jp_serverapp.kernel_manager.shutdown_kernel(kernel, now=True)
