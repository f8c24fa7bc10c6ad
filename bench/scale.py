"""Scenarios of issue 14 (one server, thousands of streams): the Redis path
against memory, fan-out to a thousand readers, and Redis memory per stream.

Each ratio compares with a baseline measured in the same run, on the same
machine: the Redis path with the memory path (both on the same database),
a reply with 1,000 readers with the same reply read by one.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .common import fast_stream_rate, new_stream, row
from .servers import BACKEND, HEADERS, jupyter
from .sse_client import Received, read_sse


def clock_latencies(got: Received) -> list[float]:
    """ms from each /clock piece's send time to its arrival here."""
    offset = time.time() - time.perf_counter()
    return sorted(
        (at + offset - float(b.rsplit(b'"text":"', 1)[1].split(b" ", 1)[0])) * 1000
        for b, at in zip(got.blocks, got.times, strict=True)
        if b"event: delta" in b
    )


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


async def _paced(api: str, pace: float, n: int) -> list[float]:
    async with httpx.AsyncClient(headers=HEADERS) as client:
        sid = await new_stream(client, api, f"/wait 0.5 /pace {pace} /clock {n}")
        return clock_latencies(await read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS))


def redis_vs_memory(tmp: Path, quick: bool) -> dict[str, Any]:
    """One fast stream and paced streams, on memory and on Redis (same database, same run)."""
    n, runs, paced = (2000, 1, 40) if quick else (20000, 5, 200)
    measured: dict[str, dict[str, Any]] = {}
    for name, backend in (("memory", "memory"), ("redis", BACKEND["stream_backend"])):
        server, api = jupyter(tmp / f"rvm-{name}", demo_delay=0, stream_backend=backend)
        with server:
            rates = [asyncio.run(fast_stream_rate(api, n)) for _ in range(runs)]
            lat = {pace: asyncio.run(_paced(api, pace, paced)) for pace in (0.05, 0.02)}
        measured[name] = {"rates": rates, "lat": lat}
    mem, red = measured["memory"], measured["redis"]
    rows = [
        row("events/s, one fast stream, memory", mem["rates"], "events/s"),
        row("events/s, one fast stream, Redis (coalesced)", red["rates"], "events/s"),
        row(
            "Redis / memory, one fast stream",
            [statistics.median(red["rates"]) / statistics.median(mem["rates"])],
            "×",
            "≥ 0.3",
        ),
    ]
    for pace in (0.05, 0.02):
        m, r = mem["lat"][pace], red["lat"][pace]
        rows += [
            row(f"latency p50 at {1 / pace:g} pieces/s, memory", [pct(m, 0.5)], "ms"),
            row(f"latency p50 at {1 / pace:g} pieces/s, Redis", [pct(r, 0.5)], "ms"),
            row(f"latency p99 at {1 / pace:g} pieces/s, Redis / memory", [pct(r, 0.99) / pct(m, 0.99)], "×"),
            row(
                f"latency p50 at {1 / pace:g} pieces/s, Redis / memory",
                [pct(r, 0.5) / pct(m, 0.5)],
                "×",
                "≤ 1.1",
            ),
        ]
    return {"rows": rows}


async def _hot_and_other(api: str, readers: int, hot_n: int, other_n: int) -> tuple[float, float]:
    """A hot reply (100 pieces/s) read by ``readers`` + 1, and another user's reply (20/s)
    read by one: the hot reply's generation rate and the other's p50 latency."""
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(headers=HEADERS, limits=limits, timeout=60) as client:
        wait = 1 + readers / 500  # every reader attaches before the first piece
        hot = await new_stream(client, api, f"/wait {wait} /pace 0.01 /repeat {hot_n} x")
        other = await new_stream(client, api, f"/wait {wait + 0.5} /pace 0.05 /clock {other_n}")
    url = api + f"streams/{hot}/events?last_event_id=0"
    crowd = [asyncio.create_task(read_sse(url, HEADERS, keep=False)) for _ in range(readers)]
    probe = asyncio.create_task(read_sse(url, HEADERS, keep=False))
    theirs = await read_sse(api + f"streams/{other}/events?last_event_id=0", HEADERS)
    got = await probe
    done = await asyncio.gather(*crowd, return_exceptions=True)
    failed = sum(1 for d in done if isinstance(d, BaseException) or len(d.times) != hot_n + 1)
    assert failed == 0 and len(got.times) == hot_n + 1, f"{failed} readers failed"
    rate = (hot_n - 1) / (got.times[-2] - got.times[0])
    return rate, pct(clock_latencies(theirs), 0.5)


def fan_out(tmp: Path, quick: bool) -> dict[str, Any]:
    readers, hot_n, other_n = (100, 100, 30) if quick else (1000, 500, 100)
    server, api = jupyter(tmp / "fanout", demo_delay=0)
    with server:
        idle_lat = pct(asyncio.run(_paced(api, 0.05, other_n)), 0.5)
        alone_rate, _ = asyncio.run(_hot_and_other(api, 0, hot_n, other_n))
        crowd_rate, busy_lat = asyncio.run(_hot_and_other(api, readers, hot_n, other_n))
    return {
        "rows": [
            row("generation rate of a 100 pieces/s reply, 1 reader", [alone_rate], "events/s"),
            row(f"generation rate, {readers} more readers", [crowd_rate], "events/s"),
            row(
                f"slowdown with {readers} readers (1 reader / {readers})",
                [alone_rate / crowd_rate],
                "×",
                "≤ 1.5",
            ),
            row("another user's reply, latency p50, idle server", [idle_lat], "ms"),
            row(f"another user's reply, latency p50, {readers} readers of the hot reply", [busy_lat], "ms"),
            row("another user's latency, busy / idle", [busy_lat / idle_lat], "×", "≤ 2"),
        ]
    }
