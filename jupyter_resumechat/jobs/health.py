"""What ``GET health`` reports: each store probed within a timeout, the jobs, the instance.

A probe is one round trip (the database reads this instance's lease, Redis
answers PING) bounded by ``timeout``, so a store that is down or frozen makes
health answer "not ok" in bounded time rather than hang.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..errors import Unavailable
from ..models import format_time
from .manager import JobManager

__all__ = ["Health", "StoreHealth", "check_health"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class StoreHealth:
    """One store: its backend, whether it answered, how fast, and if not, why."""

    backend: str
    ok: bool
    latency_ms: float | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"backend": self.backend, "ok": self.ok, "latency_ms": self.latency_ms}
        if self.detail:
            found["detail"] = self.detail
        return found


@dataclass(frozen=True)
class Health:
    """The whole answer; ``ok`` only when nothing is misconfigured and both stores answer."""

    provider: str
    model: str
    messages: StoreHealth
    streams: StoreHealth
    jobs: int = 0
    readers: int = 0
    instance: dict[str, Any] | None = None
    problem: str = ""  # misconfiguration or a failed start, named
    mcp: dict[str, Any] | None = None  # each MCP server's {ok, tools, error, restarts}: named, never a 503

    @classmethod
    def misconfigured(cls, provider: str, model: str, problem: str, backends: tuple[str, str]) -> Health:
        down = "not started: the extension is misconfigured"
        return cls(
            provider,
            model,
            StoreHealth(backends[0], False, None, down),
            StoreHealth(backends[1], False, None, down),
            problem=problem,
        )

    @property
    def ok(self) -> bool:
        return not self.problem and self.messages.ok and self.streams.ok

    @property
    def detail(self) -> str:
        """What is wrong, naming which part."""
        if self.problem:
            return self.problem
        named = [
            (f"messages ({self.messages.backend})", self.messages),
            (f"streams ({self.streams.backend})", self.streams),
        ]
        return "; ".join(f"{name}: {store.detail}" for name, store in named if not store.ok)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "ok": self.ok,
            "provider": self.provider,
            "model": self.model,
            "stores": {"messages": self.messages.to_json(), "streams": self.streams.to_json()},
            "jobs": self.jobs,
            "readers": self.readers,
            "instance": self.instance,
            "mcp": self.mcp or {},
        }
        if not self.ok:
            found.update(error=Unavailable.code, detail=self.detail)
        return found


async def check_health(manager: JobManager, timeout: float, problem: str = "") -> Health:
    """Probe both stores side by side, each within ``timeout`` seconds."""
    (messages, lease_until), (streams, _) = await asyncio.gather(
        _probe(manager.messages.backend, manager.messages.instances.lease_until, timeout),
        _probe(manager.streams.backend, manager.streams.ping, timeout),
    )
    until = datetime.fromtimestamp(lease_until, timezone.utc) if lease_until else None
    instance = {
        "id": manager.messages.instance_id,
        "lease_seconds": manager.settings.owner_lease,
        "lease_until": format_time(until) if until else None,
    }
    provider = manager.provider
    return Health(
        provider.name,
        provider.default_model,
        messages,
        streams,
        jobs=manager.active_jobs,
        readers=manager.readers,
        instance=instance,
        problem=problem,
        mcp={name: connection.health() for name, connection in manager.toolbox.mcp.items()},
    )


async def _probe(
    backend: str, call: Callable[[], Awaitable[_T]], timeout: float
) -> tuple[StoreHealth, _T | None]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        value = await asyncio.wait_for(call(), timeout)
    except Unavailable as exc:
        return StoreHealth(backend, False, None, exc.detail), None
    except asyncio.TimeoutError:
        return StoreHealth(backend, False, None, f"no answer within {timeout:g} s"), None
    return StoreHealth(backend, True, round((loop.time() - began) * 1000, 1)), value
