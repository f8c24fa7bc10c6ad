"""Every tool this deployment offers, in one place: the built-in file tools, the
page tools and each configured MCP server's, with the approval each one gets.

The run loop asks the toolbox what a run may call (``offered``), how a call
is decided (``approval``) and runs server tools through it (``run``); ``GET
tools`` lists ``listing``.  An MCP server that cannot start is left out of
the list (and named in health), never a failed request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from .base import RunsOn, ServerTool, ToolFailed, ToolSpec
from .mcp import McpConnection
from .page import PAGE_TOOLS
from .policy import Approval, approval_for

__all__ = ["ToolBox"]

log = logging.getLogger("jupyter_resumechat.tools")


class ToolBox:
    """The tools of one server: declarations, policy, and the server tools' execution."""

    def __init__(
        self,
        server_tools: Sequence[ServerTool] = (),
        mcp: Mapping[str, McpConnection] | None = None,
        rules: Mapping[str, Approval] | None = None,
        *,
        page_tools: Sequence[ToolSpec] = PAGE_TOOLS,
    ) -> None:
        self._server = {tool.spec.name: tool for tool in server_tools}
        self._page = {spec.name: spec for spec in page_tools}
        self.mcp = dict(mcp or {})
        self.rules = dict(rules or {})

    async def specs(self) -> list[ToolSpec]:
        """Every tool known now: built-in first, then each MCP server's (those that answer)."""
        found = [tool.spec for tool in self._server.values()] + list(self._page.values())
        if self.mcp:
            listed = await asyncio.gather(
                *(self._mcp_specs(name, connection) for name, connection in self.mcp.items())
            )
            for specs in listed:
                found += [spec for spec in specs if spec.name not in {f.name for f in found}]
        return found

    async def _mcp_specs(self, name: str, connection: McpConnection) -> list[ToolSpec]:
        try:
            return await connection.tools()
        except ToolFailed as exc:
            log.warning("resumechat: MCP server %r offers no tools now: %s", name, exc.detail)
            return []

    def approval(self, spec: ToolSpec, always: Collection[str] = ()) -> Approval:
        return approval_for(spec.name, spec.effect, self.rules, always)

    async def listing(self, always: Collection[str] = ()) -> list[dict[str, Any]]:
        """``GET tools``: each tool with the approval it gets."""
        return [spec.to_json(self.approval(spec, always)) for spec in await self.specs()]

    async def offered(self, selection: Sequence[str] | None) -> list[ToolSpec]:
        """What a run may call: the selection (``None``: nothing; ``["*"]``: all), never a ``never`` tool."""
        if not selection:
            return []
        every = "*" in selection
        return [
            spec
            for spec in await self.specs()
            if (every or spec.name in selection) and self.approval(spec) is not Approval.NEVER
        ]

    async def names(self) -> set[str]:
        return {spec.name for spec in await self.specs()}

    async def run(self, spec: ToolSpec, arguments: Mapping[str, Any]) -> str:
        """Execute a server tool (built-in or MCP); raises ToolFailed / OutcomeUnknown."""
        if spec.runs_on is not RunsOn.SERVER:
            raise ToolFailed("internal", f"{spec.name} runs in the page, not on the server")
        builtin = self._server.get(spec.name)
        if builtin is not None:
            return await builtin.run(arguments)
        source = spec.source.removeprefix("mcp:")
        connection = self.mcp.get(source)
        if connection is None:
            raise ToolFailed("unavailable", f"no MCP server {source!r} is configured")
        return await connection.call(spec, arguments)
