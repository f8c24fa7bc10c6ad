"""The MCP servers in ``mcp_servers``: connected with the official ``mcp`` SDK, their tools offered.

One ``McpConnection`` per configured server. Its ``loop()`` is a long-lived
``Loop`` that the job manager's TaskGroup owns (started with the others, asked
to stop, awaited);
it connects only when a run first needs the server (lazily), and reconnects
when the server died. An SDK client must be entered and left in one task, so
calls reach it through a queue and each is answered in a task of its own
inside the connection; a caller that is cancelled (Stop) cancels its call,
and the SDK tells the server.

Outcomes: a result is text; a tool's own error (``isError``) ends the call
``error``; a call that was sent and then lost its server or its answer
(process died, ``call_timeout`` passed) raises OutcomeUnknown (the call ends
``unknown``, never re-sent). Before each call a listing is fetched, so a server
that died while idle is restarted before anything is sent to it.

A little over 300 lines: the connection's task, its queue of calls and the
mapping of the SDK's outcomes are one state machine (who may still answer a
call depends on which task holds the session), kept together on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..background import Loop
from .base import OutcomeUnknown, RunsOn, ToolFailed, ToolSpec
from .mcp_config import McpServerConfig, parse_servers
from .policy import Effect
from .results import mcp_text

__all__ = ["McpConnection", "McpServerConfig", "parse_servers"]

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_CONNECTION_CLOSED, _REQUEST_TIMEOUT = -32000, -32001  # the SDK's error codes (mcp_types)


@dataclass(frozen=True)
class _Lost:
    """Put on the queue by a call whose connection closed under it, to end that connection."""

    generation: int


@dataclass(eq=False)
class _Call:
    name: str
    arguments: dict[str, Any]
    answer: asyncio.Future[str]
    task: asyncio.Task[None] | None = None


class McpConnection:
    """One configured MCP server: its tools, its calls, its health."""

    def __init__(
        self, config: McpServerConfig, *, call_timeout: float = 300.0, start_timeout: float = 30.0
    ) -> None:
        self.config = config
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.error: str | None = None  # why the last connection failed or ended, for health
        self.restarts = 0
        self._specs: list[ToolSpec] = []
        self._wanted = asyncio.Event()
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._connected = False
        self._calls: asyncio.Queue[_Call | _Lost] = asyncio.Queue()
        self._generation = 0  # which connection is current
        # the SDK is imported now, at the extension's load: importing it on first use
        # held the event loop ~2 s, long enough for a peer to take this server's leases
        with contextlib.suppress(ImportError):
            import mcp
            import mcp.shared.exceptions  # noqa: F401

    # --- what the run loop and health see -------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``{ok, tools, error, restarts}``; a server never needed yet is ok with no tools listed."""
        return {
            "ok": self.error is None,
            "tools": len(self._specs),
            "error": self.error,
            "restarts": self.restarts,
        }

    async def tools(self) -> list[ToolSpec]:
        """The server's tools, connecting first if need be; raises ToolFailed when it cannot start."""
        await self._connect_now()
        return list(self._specs)

    async def call(self, tool: ToolSpec, arguments: Mapping[str, Any]) -> str:
        """Run ``tool`` on the server; raises ToolFailed, or OutcomeUnknown once sent and lost."""
        await self._connect_now()
        call = _Call(
            str(tool.extra.get("mcp_name", tool.name)),
            dict(arguments),
            asyncio.get_running_loop().create_future(),
        )
        await self._calls.put(call)
        try:
            return await call.answer
        except asyncio.CancelledError:
            if call.task is not None:
                call.task.cancel()
            call.answer.cancel()
            raise

    async def _connect_now(self) -> None:
        self._wanted.set()
        try:
            await asyncio.wait_for(self._ready.wait(), self.start_timeout)
        except TimeoutError:
            raise ToolFailed(
                "unavailable", f"MCP server {self.config.name!r} did not start: {self.error or 'no answer'}"
            ) from None
        if not self._connected:
            raise ToolFailed("unavailable", f"MCP server {self.config.name!r} is not available: {self.error}")

    # --- the owner task -------------------------------------------------------------------

    def loop(self) -> Loop:
        """This connection as a ``Loop`` for the manager's TaskGroup."""
        return Loop(f"resumechat-mcp-{self.config.name}", self.run, self.stop)

    def stop(self) -> None:
        """Ask ``run`` to end: the connection closes (the server process stops), queued calls are told."""
        self._stop.set()
        self._wanted.set()
        self._calls.put_nowait(_Lost(self._generation))

    async def run(self) -> None:
        """Connect when wanted, serve calls, reconnect after a failure (backing off); until stopped.

        Calls queued when a live connection ends wait for the next one (they were never sent);
        calls queued when a start fails, or when the loop stops, are told the server is not available.
        """
        failures = 0
        while not self._stop.is_set():
            await self._wanted.wait()
            if self._stop.is_set():
                break
            try:
                await self._connection()
            except asyncio.CancelledError:
                self.error = "stopped"
                self._fail_waiting()
                raise
            except Exception as error:  # a server that cannot start or dies is named in health, never fatal
                self.error = _describe(error)
                log.warning("MCP server %s: %s", self.config.name, self.error)
            finally:
                was_connected, self._connected = self._connected, False
                if was_connected and not self._stop.is_set():
                    self._ready.clear()  # a live server died: callers wait for the restart
                else:
                    self._ready.set()  # a start failed, or a stop: callers hear it at once
            failures = 1 if was_connected else failures + 1
            if not was_connected or self._stop.is_set():
                self._fail_waiting()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):  # a stop ends the back-off at once
                await asyncio.wait_for(self._stop.wait(), min(0.25 * 2 ** min(failures, 7), 30.0))
            self._ready.clear()
            self.restarts += 1
        self.error = "stopped"
        self._fail_waiting()

    async def _connection(self) -> None:
        from mcp import Client  # the [mcp] extra; parse_servers ran without it

        self._generation += 1
        async with Client(self._transport()) as client:
            self._specs = await asyncio.wait_for(self._list(client), self.start_timeout)
            self.error, self._connected = None, True
            self._ready.set()
            answering: set[asyncio.Task[None]] = set()
            try:
                while True:
                    call = await self._calls.get()
                    if isinstance(call, _Lost):
                        if self._stop.is_set():
                            return  # asked to stop: leaving the block closes the server
                        if call.generation == self._generation:
                            raise ConnectionError("the server stopped during a call")
                        continue  # a connection already replaced
                    if call.answer.done():
                        continue  # its caller gave up while it waited
                    if not await self._alive(client):
                        self._calls.put_nowait(call)  # never sent: the next connection takes it
                        raise ConnectionError("the server stopped answering")
                    call.task = asyncio.create_task(self._answer(client, call, self._generation))
                    answering.add(call.task)
                    call.task.add_done_callback(answering.discard)
            finally:
                for task in answering:
                    task.cancel()  # sent, then the connection ends: each such call ends unknown
                await asyncio.gather(*answering, return_exceptions=True)

    async def _alive(self, client: Any) -> bool:
        try:
            self._specs = await asyncio.wait_for(self._list(client), self.start_timeout)
        except Exception:  # closed or silent: the caller reconnects before sending anything
            return False
        return True

    async def _list(self, client: Any) -> list[ToolSpec]:
        specs, cursor = [], None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            specs += [self._spec(tool) for tool in page.tools]
            cursor = page.next_cursor
            if not cursor:
                return specs

    def _spec(self, tool: Any) -> ToolSpec:
        name = _SAFE.sub("_", f"{self.config.name}__{tool.name}")[:64]
        read_only = bool(tool.annotations and tool.annotations.read_only_hint)
        schema = dict(tool.input_schema or {"type": "object"})
        schema.setdefault("type", "object")
        return ToolSpec(
            name,
            (tool.description or tool.title or tool.name)[:2000],
            schema,
            Effect.READ if read_only else Effect.WRITE,
            RunsOn.SERVER,
            source=f"mcp:{self.config.name}",
            extra={"mcp_name": tool.name},
        )

    async def _answer(self, client: Any, call: _Call, generation: int) -> None:
        from mcp.shared.exceptions import MCPError

        try:
            result = await client.call_tool(call.name, call.arguments, read_timeout_seconds=self.call_timeout)
        except asyncio.CancelledError:
            if not call.answer.done():
                call.answer.set_exception(OutcomeUnknown("cancelled", "the call was stopped while it ran"))
            raise
        except MCPError as error:
            code = getattr(getattr(error, "error", None), "code", None)
            if code in (_CONNECTION_CLOSED, _REQUEST_TIMEOUT):
                what = (
                    "stopped during the call"
                    if code == _CONNECTION_CLOSED
                    else f"did not answer in {self.call_timeout:g} s"
                )
                _settle(
                    call,
                    OutcomeUnknown(
                        "unknown", f"MCP server {self.config.name!r} {what}; the outcome is unknown"
                    ),
                )
                if code == _CONNECTION_CLOSED:
                    self._calls.put_nowait(_Lost(generation))
                return
            _settle(call, ToolFailed("mcp_error", _describe(error)))
            return
        except Exception as error:  # anything else the SDK raises: the model hears it, the server lives
            _settle(call, OutcomeUnknown("unknown", f"MCP server {self.config.name!r}: {_describe(error)}"))
            return
        text = mcp_text(result)
        if getattr(result, "is_error", False):
            _settle(call, ToolFailed("tool_error", text or "the tool reported an error"))
        elif not call.answer.done():
            call.answer.set_result(text)

    def _fail_waiting(self) -> None:
        """Calls still queued (never sent) when a connection is gone: told so, not left hanging."""
        while not self._calls.empty():
            call = self._calls.get_nowait()
            if isinstance(call, _Call):
                _settle(
                    call,
                    ToolFailed(
                        "unavailable", f"MCP server {self.config.name!r} is not available: {self.error}"
                    ),
                )

    def _transport(self) -> Any:
        if self.config.url:
            return self.config.url
        from mcp import StdioServerParameters

        return StdioServerParameters(
            command=self.config.command or "", args=list(self.config.args), env=dict(self.config.env)
        )


def _settle(call: _Call, error: Exception) -> None:
    if not call.answer.done():
        call.answer.set_exception(error)


def _describe(error: BaseException) -> str:
    inner = getattr(error, "exceptions", None)  # an exception group (anyio's task groups raise them)
    if isinstance(inner, tuple | list) and inner:
        return "; ".join(_describe(one) for one in inner)
    text = str(error) or type(error).__name__
    return text[:500]
