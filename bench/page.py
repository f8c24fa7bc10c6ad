"""B10, a page of chat panels (issue "one connection per page"): N streams read
over one multiplexed connection (``GET streams/events``) against the same N
streams read over N connections (``GET streams/{sid}/events``), on the same
server in the same run.

Two figures each way: events/s of N replies at full speed, read from their
start; and the delivery latency of N replies at a model's pace (each piece
carries the time it was generated: ``/clock``).  The ratios are multiplexed /
separate.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .common import new_stream, row
from .scale import clock_latencies, pct
from .servers import HEADERS, jupyter
from .sse_client import Received, read_sse


async def _streams(api: str, count: int, prompt: str) -> list[str]:
    async with httpx.AsyncClient(headers=HEADERS, timeout=60) as client:
        return list(await asyncio.gather(*(new_stream(client, api, prompt) for _ in range(count))))


async def _read(api: str, sids: list[str], multiplexed: bool) -> list[Received]:
    """Every stream from its start: one connection, or one per stream."""
    if multiplexed:
        query = ",".join(f"{sid}:0" for sid in sids)
        return [await read_sse(api + f"streams/events?streams={query}", HEADERS, finals=len(sids))]
    urls = [api + f"streams/{sid}/events?last_event_id=0" for sid in sids]
    return list(await asyncio.gather(*(read_sse(url, HEADERS) for url in urls)))


async def _rate(api: str, count: int, n: int, multiplexed: bool) -> float:
    """Events/s of ``count`` replies of ``n`` pieces at full speed, all read to their finals."""
    began = time.perf_counter()
    sids = await _streams(api, count, f"/pace 0 /repeat {n} x")
    got = await _read(api, sids, multiplexed)
    events = sum(len(g.times) for g in got)
    assert events == count * (n + 1), (events, count * (n + 1))
    return count * n / (max(g.times[-1] for g in got) - began)


async def _latencies(api: str, count: int, pieces: int, multiplexed: bool) -> list[float]:
    """ms from each piece's generation to its arrival, over ``count`` replies at 50 pieces/s."""
    sids = await _streams(api, count, f"/wait 0.5 /pace 0.02 /clock {pieces}")
    got = await _read(api, sids, multiplexed)
    return sorted(lat for g in got for lat in clock_latencies(g))


def page_of_panels(tmp: Path, quick: bool) -> dict[str, Any]:
    counts, n, pieces, runs = ((8,), 500, 20, 1) if quick else ((8, 64), 2000, 100, 3)
    rows = []
    server, api = jupyter(tmp / "b10", demo_delay=0)
    with server:
        for count in counts:
            rate = {m: [asyncio.run(_rate(api, count, n, m)) for _ in range(runs)] for m in (False, True)}
            lat = {
                m: [asyncio.run(_latencies(api, count, pieces, m)) for _ in range(runs)]
                for m in (False, True)
            }
            p50 = {m: [pct(one, 0.5) for one in lat[m]] for m in lat}
            p99 = {m: [pct(one, 0.99) for one in lat[m]] for m in lat}
            rows += [
                row(f"events/s, {count} fast replies, {count} connections", rate[False], "events/s"),
                row(f"events/s, {count} fast replies, one multiplexed connection", rate[True], "events/s"),
                row(f"multiplexed / separate, events/s, {count} replies", [_ratio(rate)], "×", "≥ 0.8"),
                row(f"latency p50, {count} replies at 50/s, {count} connections", p50[False], "ms"),
                row(f"latency p50, {count} replies at 50/s, multiplexed", p50[True], "ms"),
                row(f"multiplexed / separate, latency p50, {count} replies", [_ratio(p50)], "×", "≤ 1.5"),
                row(f"latency p99, {count} replies at 50/s, {count} connections", p99[False], "ms"),
                row(f"latency p99, {count} replies at 50/s, multiplexed", p99[True], "ms"),
                row(f"multiplexed / separate, latency p99, {count} replies", [_ratio(p99)], "×"),
            ]
    return {"rows": rows}


def _ratio(measured: dict[bool, list[float]]) -> float:
    """Median multiplexed over median separate."""
    return statistics.median(measured[True]) / max(statistics.median(measured[False]), 1e-9)
