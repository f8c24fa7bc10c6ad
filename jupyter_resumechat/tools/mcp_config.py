"""The ``mcp_servers`` trait: each entry checked and kept as a plain value.

Only configuration names MCP servers (never a request): a stdio command with
its arguments and environment, or a streamable-HTTP URL. The environment's
values are secrets (API tokens) that must never reach a client or a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["McpServerConfig", "parse_servers"]


@dataclass(frozen=True)
class McpServerConfig:
    """One entry of ``mcp_servers``: a stdio command, or a streamable-HTTP URL."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None

    @property
    def secrets(self) -> list[str]:
        """Values that must never reach a client or a log (its environment's values)."""
        return [value for value in self.env.values() if len(value) >= 4]

    @property
    def where(self) -> str:
        return self.url or " ".join([self.command or "", *self.args]).strip()


def parse_servers(value: Mapping[str, Any]) -> dict[str, McpServerConfig]:
    """The trait's value checked; raises ValueError naming the server and what is wrong."""
    servers: dict[str, McpServerConfig] = {}
    for name, entry in value.items():
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", name):
            raise ValueError(f"mcp_servers: a server's name must be 1-32 of A-Z a-z 0-9 _ -, not {name!r}")
        if not isinstance(entry, Mapping):
            raise ValueError(f"mcp_servers[{name!r}] must be {{command, args, env}} or {{url}}")
        unknown = set(entry) - {"command", "args", "env", "url"}
        if unknown or ("command" in entry) == ("url" in entry):
            raise ValueError(
                f"mcp_servers[{name!r}] must have either 'command' (with optional 'args', 'env') or 'url'"
                + (f"; unknown keys: {sorted(unknown)}" if unknown else "")
            )
        args, env = entry.get("args", []), entry.get("env", {})
        if not isinstance(args, list | tuple) or not all(isinstance(a, str) for a in args):
            raise ValueError(f"mcp_servers[{name!r}]['args'] must be a list of strings")
        if not isinstance(env, Mapping) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError(f"mcp_servers[{name!r}]['env'] must map names to strings")
        url = entry.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise ValueError(f"mcp_servers[{name!r}]['url'] must be an http(s) URL")
        command = entry.get("command")
        if command is not None and not (isinstance(command, str) and command.strip()):
            raise ValueError(f"mcp_servers[{name!r}]['command'] must be a program to run")
        servers[name] = McpServerConfig(name, command, tuple(args), dict(env), url)
    return servers
