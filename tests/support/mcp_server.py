"""A real MCP server for the tests, built with the official ``mcp`` SDK.

Run as ``python tests/support/mcp_server.py [--http PORT]`` (stdio by default).
Its tools: ``echo`` (read-only), ``write_note`` (appends a line to the file
named by ``$NOTES``, so a test counts executions), ``hang`` (never answers,
saying on ``$NOTES`` that it started), ``die`` (the process exits mid-call),
``pid``, ``shout`` (answers with the secret ``$MCP_SECRET``'s length, proving env reached it),
``gated`` (says it started on ``$NOTES``, waits until the file ``$GATE`` exists, then notes its
line: a test puts a fault exactly between a call's start and its end).
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

server = MCPServer("resumechat-test")


def _note(line: str) -> None:
    with open(os.environ["NOTES"], "a", encoding="utf-8") as notes:
        notes.write(line + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def write_note(line: str) -> str:
    """Append a line to the notes file."""
    _note(line)
    return f"noted {line!r}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def hang() -> str:
    """Start, then never answer."""
    _note(f"hang started {os.getpid()}")
    time.sleep(3600)
    return "never"


@server.tool()
def die() -> str:
    """Exit the whole server in the middle of the call."""
    _note(f"die {os.getpid()}")
    os._exit(3)


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def gated(line: str) -> str:
    """Start, wait for the gate file, then note the line."""
    _note(f"gated started {os.getpid()}")
    while not os.path.exists(os.environ["GATE"]):
        time.sleep(0.02)
    _note(line)
    return f"passed {line}"


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def pid() -> str:
    """The server process's id."""
    return str(os.getpid())


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def shout() -> str:
    """How long the configured secret is."""
    return f"secret of {len(os.environ.get('MCP_SECRET', ''))} characters"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
