"""The client against a server in another process, as from a notebook kernel."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_resumechat.client import SyncClient
from jupyter_resumechat.models import EventKind
from tests.support.kernel import execute, start_kernel
from tests.support.server_process import ServerProcess


@pytest.fixture
def server(tmp_path):
    process = ServerProcess(
        tmp_path, demo_delay=0.001, db_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    ).start()
    yield process
    process.stop()


def test_sync_client_inside_a_running_event_loop(server):
    async def cell():  # a notebook cell: this thread's loop is running
        with SyncClient(server.base, server.headers["Authorization"].split()[1]) as client:
            conv = client.create_conversation()
            sent = client.send(conv.id, "/repeat 4 ab")
            texts = [
                e.text for e in client.stream(sent.stream_id, last_event_id=0) if e.kind is EventKind.DELTA
            ]
            return texts, client.messages(conv.id)[1].content

    texts, stored = asyncio.run(cell())
    assert texts == ["ab"] * 4 and stored == "abababab"


def test_a_kernel_finds_its_server_through_the_runtime_file(server):
    """Without the exported variables, JPY_PARENT_PID and jpserver-<pid>.json lead to the server."""

    async def main():
        kernel = await start_kernel(server.base, server.headers)
        code = (
            "import os\n"
            "os.environ.pop('JUPYTER_RESUMECHAT_URL'); os.environ.pop('JUPYTER_RESUMECHAT_TOKEN')\n"
            "from jupyter_resumechat.client import SyncClient, discover\n"
            "info = discover()\n"
            "c = SyncClient.from_info(info)\n"
            "conv = c.create_conversation()\n"
            "print(info.source, c.ask(conv.id, '/repeat 3 ok').content)\n"
        )
        return await execute(server.base, server.headers, kernel, code)

    out, errors = asyncio.run(main())
    assert not errors, errors
    source, content = out.split()
    assert source.startswith("jpserver-") and content == "okokok"
