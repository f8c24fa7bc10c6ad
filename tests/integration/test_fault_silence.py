"""A dead server behind a proxy that never closes (docs/protocol.md#silence).

JupyterHub's configurable-http-proxy keeps the client's connection open when
the single-user server behind it dies: the client sees neither an end nor an
error, only silence.  Silence for 2.5 heartbeats is a disconnect: the client
resumes with its last id and, the stream being gone with the dead server,
ends with the committed message instead of waiting forever.
"""

from __future__ import annotations

import signal

import anyio
import httpx

from jupyter_resumechat import Client
from jupyter_resumechat.eventstream import HEARTBEAT_HEADER
from jupyter_resumechat.models import EventKind, MessageStatus
from tests.support.server_process import TOKEN, ServerProcess
from tests.support.services import run_aside
from tests.support.tcp_proxy import TcpProxy

TRAITS = {"heartbeat_interval": 0.4, "checkpoint_interval": 0.1, "owner_lease": 1.0, "demo_delay": 0.01}


def test_the_event_stream_names_its_heartbeat(tmp_path):
    with ServerProcess(tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", **TRAITS) as server:
        with httpx.Client(headers=server.headers, timeout=30) as http:
            cid = http.post(server.url("conversations"), json={}).json()["id"]
            sid = http.post(server.url(f"conversations/{cid}/messages"), json={"content": "hi"}).json()[
                "stream_id"
            ]
            with http.stream("GET", server.url(f"streams/{sid}/events")) as events:
                assert events.headers[HEARTBEAT_HEADER] == "0.4"


def test_client_resumes_after_silence_from_a_dead_server_behind_a_proxy(tmp_path):
    server = ServerProcess(tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", **TRAITS)
    with server, TcpProxy(("127.0.0.1", server.port), never_close=True) as proxy:

        async def main() -> None:
            with anyio.fail_after(90):
                async with Client(f"http://{proxy.address}/", TOKEN, backoff=0.05, max_retries=100) as client:
                    await read_across_a_death(client, server)

        run_aside(main())
    assert proxy.accepted >= 3  # the client did reconnect through the proxy


async def read_across_a_death(client: Client, server: ServerProcess) -> None:
    conv = await client.create_conversation()
    sent = await client.send(conv.id, "/pace 0.02 /repeat 2000 word ")
    where = {"conversation_id": conv.id, "message_id": sent.assistant_message.id}
    last = 0
    async for event in client.stream(sent.stream_id, **where):
        last = event.id
        if last >= 20:
            break
    assert client.heartbeat_interval == 0.4  # learnt from the server
    # a reader holds a connection through the proxy; the server dies under it
    stream = client.stream(sent.stream_id, last_event_id=last, **where)
    first = await stream.__anext__()
    assert first.kind is EventKind.DELTA
    server.kill(signal.SIGKILL)
    server.start()  # same port, same database: the stream died with the old process
    final = None
    async for event in stream:
        final = event
    assert final is not None and final.kind is EventKind.FINAL and final.reloaded
    assert final.message is not None and final.message.status is MessageStatus.INTERRUPTED
    assert final.message.content.startswith("word word")
