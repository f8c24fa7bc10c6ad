"""B3: many concurrent replies at a model's pace, against a bare tornado SSE
handler serving the same crowd (issue 22, item 1).

1,000 streams × 20 pieces/s, one reader each, attached before the first
piece; each piece carries the wall-clock time it was sent, so a reader's
added latency is its arrival time minus that.  The bare handler
(``bench/bare_sse.py`` ``/paced``) writes the same events from memory at
the same pace in a process of its own: every B3 figure has "ours / bare"
beside it, CPU and latency, measured in the same run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from .common import cpu_seconds, machine_busy, new_stream, row, rss
from .servers import BACKEND, HEADERS, bare, jupyter
from .sse_client import Received, read_sse

__all__ = ["b3", "crowd", "latencies"]


def b3(tmp: Path, quick: bool) -> dict[str, Any]:
    streams, pace, seconds = (100, 0.05, 3) if quick else (1000, 0.05, 10)
    events = int(seconds / pace)
    # every reply starts at once, after every reader attached: 1,000 sends take ~30 s on
    # 2 cores (each commits its turn to the database), so 50 ms a stream are set aside
    wait = 2 + streams * 0.05
    server, api = jupyter(tmp / "b3", demo_delay=pace, checkpoint_interval=1.0)
    with server:

        async def ours() -> dict[str, Any]:
            limits = httpx.Limits(max_connections=50)
            async with httpx.AsyncClient(headers=HEADERS, limits=limits, timeout=60) as client:
                start = time.time() + wait
                prompt = f"/at {start:.6f} /pace {pace} /clock {events}"
                began = time.perf_counter()
                sids = await asyncio.gather(*[new_stream(client, api, prompt) for _ in range(streams)])
                sent = time.perf_counter() - began
            urls = [api + f"streams/{sid}/events?last_event_id=0" for sid in sids]
            first_in = start - time.time()
            return {"sent": sent, **await crowd(urls, [server.pid], events, first_in, seconds, redis_memory)}

        result = asyncio.run(ours())
    process, url = bare(events)
    with process:

        async def baseline() -> dict[str, Any]:
            start = time.time() + wait
            urls = [url + f"paced?n={events}&pace={pace}&start={start:.6f}" for _ in range(streams)]
            return await crowd(urls, [process.pid], events, start - time.time(), seconds, lambda: 0)

        base = asyncio.run(baseline())
    late = (
        "readers attached after the first pieces: latency includes catch-up" if result["sent"] > wait else ""
    )
    rows = [
        row(
            f"{streams} replies started (send to 202, 50 at a time)",
            [result["sent"]],
            "s",
            f"< {wait:g}",
            late,
        ),
        row(f"added latency p50, {streams} streams × {1 / pace:g} events/s", [result["p50"]], "ms", "≤ 5"),
        row("added latency p99", [result["p99"]], "ms", "≤ 50"),
        row("errors", [result["errors"]], "streams", "0"),
        row("events delivered per second (all streams)", [result["throughput"]], "events/s"),
        row("server CPU", [result["cpu"]], "% of one core", "≤ 50"),
        row("server RSS growth per live stream with one reader", [result["rss"]], "B"),
        row("server CPU per delivered event", [result["per_event"]], "µs"),
        row("bare tornado: added latency p50", [base["p50"]], "ms"),
        row("bare tornado: added latency p99", [base["p99"]], "ms"),
        row("bare tornado: errors", [base["errors"]], "streams"),
        row("bare tornado: events delivered per second", [base["throughput"]], "events/s"),
        row("bare tornado: server CPU", [base["cpu"]], "% of one core"),
        row("bare tornado: server CPU per delivered event", [base["per_event"]], "µs"),
        row("CPU per event, ours / bare", [_ratio(result["per_event"], base["per_event"])], "×", "≤ 2"),
        row("added latency p50, ours / bare", [_ratio(result["p50"], base["p50"])], "×"),
        row("added latency p99, ours / bare", [_ratio(result["p99"], base["p99"])], "×"),
    ]
    if result["redis"]:
        rows.append(row("Redis used_memory per live stream (log, text, meta)", [result["redis"]], "B"))
    return {"rows": rows, "deltas_measured": result["count"]}


def _ratio(ours: float, base: float) -> float:
    return ours / base if base > 0 else float("inf")


async def _whole(url: str) -> Received:
    return await read_sse(url, HEADERS)


async def crowd(
    urls: list[str],
    pids: Sequence[int],
    events: int,
    first_in: float,
    seconds: float,
    memory: Callable[[], int],
    read: Callable[[str], Awaitable[Received]] = _whole,
) -> dict[str, Any]:
    """Read every stream at once (``read`` each url); latency and errors, and the CPU,
    throughput and memory of the servers ``pids`` while the pieces flow (from the first,
    ``first_in`` seconds from now); ``machine``: the share of every core busy meanwhile."""
    marks: dict[str, float] = {}

    async def mark() -> None:
        await asyncio.sleep(max(0.0, first_in))
        marks.update(cpu=sum(map(cpu_seconds, pids)), t=time.perf_counter())
        busy0[:] = machine_busy()
        await asyncio.sleep(seconds / 2)  # mid-stream: every reader attached, every log growing
        rss_now = sum(map(rss, pids))
        marks.update(rss=(rss_now - memory0[0]) / len(urls), redis=(memory() - memory0[1]) / len(urls))

    memory0 = (sum(map(rss, pids)), memory())  # the streams exist, no reader yet
    busy0: list[float] = []
    marker = asyncio.create_task(mark())
    reads = await asyncio.gather(*[read(url) for url in urls], return_exceptions=True)
    await marker
    elapsed = time.perf_counter() - marks["t"]
    used = sum(map(cpu_seconds, pids)) - marks["cpu"]
    busy1 = machine_busy()
    lags, whole = latencies(reads, events)
    lags.sort()
    return {
        "p50": lags[len(lags) // 2] if lags else float("inf"),
        "p99": lags[int(len(lags) * 0.99)] if lags else float("inf"),
        "errors": len(reads) - whole,
        "cpu": used / elapsed * 100,
        "per_event": used / max(len(lags), 1) * 1e6,  # µs of server CPU per event
        "count": len(lags),
        "throughput": len(lags) / elapsed,
        "rss": marks["rss"],
        "redis": marks["redis"] if memory0[1] else 0.0,
        "machine": (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1e-9) * 100,
    }


def latencies(reads: list[Received | BaseException], events: int) -> tuple[list[float], int]:
    """Each delta's arrival minus the time written in it (ms), and how many reads were whole."""
    latencies: list[float] = []
    whole = 0
    offset = time.time() - time.perf_counter()
    for read in reads:
        if isinstance(read, BaseException) or read.status != 200 or len(read.times) != events + 1:
            continue
        whole += 1
        for block, at in zip(read.blocks, read.times, strict=True):
            if b"event: delta" in block:
                sent = float(block.rsplit(b'"text":"', 1)[1].split(b" ", 1)[0])
                latencies.append((at + offset - sent) * 1000)
    return latencies, whole


def redis_memory() -> int:
    """Redis's used_memory, or 0 when the streams are in memory."""
    url = BACKEND.get("stream_backend", "memory")
    if not url.startswith("redis"):
        return 0
    import redis

    with redis.Redis.from_url(url) as client:
        return int(client.info("memory")["used_memory"])
