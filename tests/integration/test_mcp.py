"""MCP servers through the official SDK: a real server (tests/support/mcp_server.py) over stdio
and streamable HTTP, started, killed and hung by the tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from jupyter_resumechat.jobs.tasks import TaskGroup
from jupyter_resumechat.tools import Effect, OutcomeUnknown, ToolFailed
from jupyter_resumechat.tools.mcp import McpConnection, McpServerConfig, parse_servers

pytest.importorskip("mcp", reason="the [mcp] extra is not installed")

SERVER = str(Path(__file__).resolve().parents[1] / "support" / "mcp_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    return tmp_path / "notes.txt"


@pytest.fixture
def http_server(notes: Path) -> Iterator[str]:
    """The test MCP server over streamable HTTP, in a process of its own."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port)],
        env={**os.environ, "NOTES": str(notes)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):  # until it listens (at most 60 s), or it died
            assert process.poll() is None, "the MCP HTTP server exited"
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(timeout=30)


def stdio(notes: Path, **env: str) -> McpServerConfig:
    return McpServerConfig("test", sys.executable, (SERVER,), {"NOTES": str(notes), **env})


@asynccontextmanager
async def connected(config: McpServerConfig, **options: Any) -> AsyncIterator[McpConnection]:
    """A connection whose loop the manager's TaskGroup runs for the block."""
    connection = McpConnection(config, **options)
    group = TaskGroup()
    group.start(connection.loop())
    try:
        yield connection
    finally:
        await group.stop(timeout=10)
        assert not group.names


async def call(connection: McpConnection, tool: str, **arguments: Any) -> str:
    specs = {spec.extra["mcp_name"]: spec for spec in await connection.tools()}
    return await connection.call(specs[tool], arguments)


def lines(notes: Path) -> list[str]:
    return notes.read_text().splitlines() if notes.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_tools_are_listed_and_called_over_both_transports(transport: str, notes: Path, request: Any) -> None:
    config = (
        stdio(notes, MCP_SECRET="s3cret-value")
        if transport == "stdio"
        else McpServerConfig("test", url=request.getfixturevalue("http_server"))
    )

    async def main() -> None:
        async with connected(config) as connection:
            specs = {spec.name: spec for spec in await connection.tools()}
            assert {"test__echo", "test__write_note", "test__hang"} <= set(specs)
            assert specs["test__echo"].effect is Effect.READ  # read-only hint
            assert specs["test__write_note"].effect is Effect.WRITE  # no hint: asks
            assert specs["test__echo"].source == "mcp:test"
            assert await call(connection, "echo", text="hi") == "echo: hi"
            assert await call(connection, "write_note", line="once") == "noted 'once'"
            if transport == "stdio":
                assert await call(connection, "shout") == "secret of 12 characters"  # env reached it
            assert connection.health() == {"ok": True, "tools": len(specs), "error": None, "restarts": 0}

    asyncio.run(main())
    assert lines(notes) == ["once"]


def test_a_server_that_dies_mid_call_ends_it_unknown_never_resends_and_restarts(notes: Path) -> None:
    async def main() -> None:
        async with connected(stdio(notes)) as connection:
            first = int(await call(connection, "pid"))
            with pytest.raises(OutcomeUnknown, match="stopped during the call; the outcome is unknown"):
                await call(connection, "die")
            while connection.health()["ok"]:  # the loop has seen the death: a call now meets the restart
                await asyncio.sleep(0.01)
            assert await call(connection, "echo", text="back") == "echo: back"  # a new process
            assert int(await call(connection, "pid")) != first and not alive(first)
            assert connection.restarts == 1 and connection.health()["ok"]

    asyncio.run(main())
    assert [line.split()[0] for line in lines(notes)] == ["die"]  # sent once, never again


def test_a_server_killed_while_idle_is_restarted_before_a_call_is_sent(notes: Path) -> None:
    async def main() -> None:
        async with connected(stdio(notes)) as connection:
            first = int(await call(connection, "pid"))
            os.kill(first, signal.SIGKILL)
            assert await call(connection, "write_note", line="after the kill") == "noted 'after the kill'"
            assert int(await call(connection, "pid")) != first

    asyncio.run(main())
    assert lines(notes) == ["after the kill"]  # exactly once


def test_a_hanging_call_ends_unknown_after_call_timeout_and_the_server_still_serves(notes: Path) -> None:
    async def main() -> None:
        async with connected(stdio(notes), call_timeout=1.0) as connection:
            with pytest.raises(OutcomeUnknown, match="did not answer in 1 s"):
                await call(connection, "hang")
            assert await call(connection, "echo", text="still") == "echo: still"

    asyncio.run(main())


def test_a_stopped_call_is_cancelled_and_the_connection_lives_on(notes: Path) -> None:
    async def main() -> None:
        async with connected(stdio(notes)) as connection:
            hanging = asyncio.create_task(call(connection, "hang"))
            while not any(line.startswith("hang started") for line in lines(notes)):
                await asyncio.sleep(0.02)
            hanging.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hanging
            assert await call(connection, "echo", text="after stop") == "echo: after stop"

    asyncio.run(main())


def test_stopping_the_loop_stops_the_server_process_and_tells_waiting_calls(notes: Path) -> None:
    async def main() -> tuple[int, McpConnection]:
        async with connected(stdio(notes)) as connection:
            return int(await call(connection, "pid")), connection

    pid, connection = asyncio.run(main())
    assert not alive(pid)
    assert connection.health()["error"] == "stopped"


def test_a_server_that_cannot_start_is_named_and_harms_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        config = McpServerConfig("broken", str(tmp_path / "no-such-program"))
        async with connected(config, start_timeout=20) as connection:
            with pytest.raises(ToolFailed, match="MCP server 'broken' is not available") as caught:
                await connection.tools()
            assert caught.value.kind == "unavailable"
            health = connection.health()
            assert health["ok"] is False and health["error"]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ({"a b": {"command": "x"}}, "name must be"),
        ({"a": {"command": "x", "url": "http://h"}}, "either 'command'"),
        ({"a": {}}, "either 'command'"),
        ({"a": {"command": "x", "shell": True}}, "unknown keys: \\['shell'\\]"),
        ({"a": {"command": "x", "args": "--flag"}}, "list of strings"),
        ({"a": {"command": "x", "env": {"K": 1}}}, "map names to strings"),
        ({"a": {"url": "file:///etc/passwd"}}, "http\\(s\\) URL"),
        ({"a": "python server.py"}, "must be \\{command"),
    ],
)
def test_a_bad_mcp_servers_value_is_refused_by_name(value: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_servers(value)


def test_secrets_of_a_server_are_its_environment_values() -> None:
    config = parse_servers({"gh": {"command": "gh-mcp", "env": {"GITHUB_TOKEN": "ghp_abcdef", "X": "1"}}})[
        "gh"
    ]
    assert config.secrets == ["ghp_abcdef"] and config.where == "gh-mcp"
