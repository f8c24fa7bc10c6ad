"""Fixtures: the server's configuration, and ``api``, an httpx client of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from httpx_sse import aconnect_sse

from jupyter_resumechat.eventstream import Reply, decode_event, split_tagged_id

from .fake_openai import FakeOpenAI, ThreadedFakeOpenAI
from .openapi import check_answer
from .services import PG_DSN
from .tcp_proxy import TcpProxy

TOKEN_HEADER = "Authorization"


BACKENDS = ["memory+sqlite", "redis+postgresql"]


@pytest.fixture
def fake_openai(jp_asyncio_loop: Any) -> Iterator[FakeOpenAI]:
    """A local server speaking OpenAI's chat API, on the test server's loop."""
    server = FakeOpenAI()
    yield server
    server.stop()


@pytest.fixture
def threaded_fake() -> Iterator[ThreadedFakeOpenAI]:
    """The same on a thread of its own: for server processes and a stopped loop."""
    fake = ThreadedFakeOpenAI()
    yield fake
    fake.stop()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """A cuttable link to the test PostgreSQL; stopped on any outcome (after any server
    using it, when that server's fixture depends on this one)."""
    target = urlsplit(PG_DSN)
    tcp = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    yield tcp
    tcp.stop()


def through_proxy(url: str, proxy: TcpProxy) -> str:
    """``url`` (a PostgreSQL URL) reaching its server only through ``proxy``."""
    authority = url.split("@", 1)[1].split("/", 1)[0]
    routed = url.replace(f"@{authority}/", f"@{proxy.address}/", 1)
    assert routed != url
    return routed


@pytest.fixture(params=BACKENDS)
def backend(request: Any) -> dict[str, Any]:
    """The stores of the server under test: every protocol test runs on each pair."""
    if request.param == "memory+sqlite":
        return {"db_url": f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path') / 'chat.db'}"}
    from .services import REDIS_URL

    return {
        "db_url": request.getfixturevalue("postgres_url"),
        "stream_backend": REDIS_URL,
        "redis_prefix": request.getfixturevalue("redis_prefix"),
    }


@pytest.fixture
def resumechat_config(backend: dict[str, Any]) -> dict[str, Any]:
    """ResumeChat traits for the test server; override per module to change them."""
    return {
        **backend,
        "demo_delay": 0.001,
        "checkpoint_interval": 0.05,
        "heartbeat_interval": 0.5,
        "stream_ttl": 30.0,
    }


@pytest.fixture
def jp_server_config(resumechat_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_resumechat": True}},
        "ResumeChat": resumechat_config,
    }


@dataclass
class SSEEvent:
    id: int
    event: str
    data: dict[str, Any]


@dataclass
class EventRead:
    """What one connection to an event stream received."""

    status: int
    headers: dict[str, str]
    events: list[SSEEvent] = field(default_factory=list)
    retry: int | None = None

    @property
    def text(self) -> str:
        """The content rebuilt by docs/protocol.md#exactly-once: snapshot then the deltas after it."""
        return rebuild(self.events)


@dataclass
class MultiplexRead:
    """What one connection to ``GET streams/events`` received, per stream."""

    status: int
    headers: dict[str, str]
    events: dict[str, list[SSEEvent]] = field(default_factory=dict)
    gone: dict[str, str] = field(default_factory=dict)  # stream id → reason
    order: list[str] = field(default_factory=list)  # the stream of each event, in arrival order
    ended: bool = False  # the server closed the response

    def text(self, sid: str) -> str:
        return rebuild(self.events.get(sid, []))

    def last_ids(self) -> dict[str, int]:
        return {sid: events[-1].id for sid, events in self.events.items() if events}


def rebuild(events: list[SSEEvent], start: str = "") -> str:
    """The content by docs/protocol.md#exactly-once, with the package's one rebuild (``Reply``);
    a final's message is not used: the text must come from the events."""
    reply = Reply.resuming(start)
    for event in events:
        if event.event != "final":
            reply.apply(decode_event(event.event, json.dumps(event.data), str(event.id)))
    return reply.content


class Api:
    """A thin client of the server under test (what the real Client will be)."""

    def __init__(self, client: httpx.AsyncClient, base: str, check: bool = True) -> None:
        self.client = client
        self.base = base
        self.check = check  # every answer is checked against the OpenAPI document

    def url(self, path: str) -> str:
        return f"{self.base}resumechat/api/{path}"

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, self.url(path), **kwargs)
        if self.check:
            check_answer(
                method, path, response.status_code, response.content, response.headers.get("content-type", "")
            )
        return response

    async def conversation(self, **body: Any) -> dict[str, Any]:
        response = await self.request("POST", "conversations", json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def send(self, cid: str, content: str, **body: Any) -> dict[str, Any]:
        response = await self.request(
            "POST", f"conversations/{cid}/messages", json={"content": content, **body}
        )
        assert response.status_code == 202, response.text
        return response.json()

    async def messages(self, cid: str) -> list[dict[str, Any]]:
        response = await self.request("GET", f"conversations/{cid}/messages")
        assert response.status_code == 200, response.text
        return response.json()["messages"]

    async def events(
        self,
        sid: str,
        last_id: int | None = None,
        *,
        query: bool = False,
        stop_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> EventRead:
        """Read a stream until its final, or until ``stop_after`` events (then hang up)."""
        params, hdrs = {}, dict(headers or {})
        if last_id is not None:
            if query:
                params["last_event_id"] = str(last_id)
            else:
                hdrs["Last-Event-ID"] = str(last_id)
        async with aconnect_sse(
            self.client, "GET", self.url(f"streams/{sid}/events"), params=params, headers=hdrs
        ) as source:
            read = EventRead(source.response.status_code, dict(source.response.headers))
            if source.response.status_code != 200:
                await source.response.aread()
                if self.check:
                    check_answer(
                        "GET",
                        f"streams/{sid}/events",
                        read.status,
                        source.response.content,
                        source.response.headers.get("content-type", ""),
                    )
                return read
            async for sse in source.aiter_sse():
                if sse.retry is not None:
                    read.retry = sse.retry
                if not sse.data:
                    continue
                read.events.append(SSEEvent(int(sse.id), sse.event, json.loads(sse.data)))
                if sse.event == "final" or (stop_after and len(read.events) >= stop_after):
                    break
        return read

    async def multiplexed(
        self, positions: dict[str, int | None], *, stop_after: int | None = None
    ) -> MultiplexRead:
        """Read several streams over one ``GET streams/events`` connection until the
        server ends it, or until ``stop_after`` events (then hang up)."""
        query = ",".join(sid if last is None else f"{sid}:{last}" for sid, last in positions.items())
        async with aconnect_sse(
            self.client, "GET", self.url("streams/events"), params={"streams": query}
        ) as source:
            read = MultiplexRead(source.response.status_code, dict(source.response.headers))
            if read.status != 200:
                await source.response.aread()
                if self.check:
                    content_type = source.response.headers.get("content-type", "")
                    check_answer("GET", "streams/events", read.status, source.response.content, content_type)
                return read
            async for sse in source.aiter_sse():
                if sse.event == "gone":
                    gone = json.loads(sse.data)
                    read.gone[gone["stream_id"]] = gone["reason"]
                    continue
                if not sse.data:
                    continue
                sid, seq = split_tagged_id(sse.id)
                read.events.setdefault(sid, []).append(SSEEvent(seq, sse.event, json.loads(sse.data)))
                read.order.append(sid)
                if stop_after and len(read.order) >= stop_after:
                    return read
            read.ended = True
        return read

    async def wait_final(self, sid: str) -> dict[str, Any]:
        read = await self.events(sid)
        assert read.events and read.events[-1].event == "final", read
        return read.events[-1].data["message"]


@pytest.fixture
def api(
    jp_serverapp: Any,
    jp_fetch: Any,
    http_server_port: Any,
    jp_base_url: str,
    jp_auth_header: dict[str, str],
    jp_asyncio_loop: Any,
) -> Iterator[Api]:
    """An authenticated client of the running test server."""
    base = f"http://127.0.0.1:{http_server_port[-1]}{jp_base_url}"
    client = httpx.AsyncClient(headers=jp_auth_header, timeout=30)
    yield Api(client, base)
    jp_asyncio_loop.run_until_complete(client.aclose())


@pytest.fixture
def extension(jp_serverapp: Any) -> Any:
    """The loaded ResumeChat extension app (its manager, its traits)."""
    point = jp_serverapp.extension_manager.extensions["jupyter_resumechat"]
    return next(iter(point.extension_points.values())).app
