"""The scenarios B1–B7 of the benchmark suite, and the results table.

Longer than 300 lines because each scenario is a short script read top to
bottom beside the others it is compared with.  B3 and its bare baseline
live in ``crowd.py``, the tool round trip in ``agent.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from . import agent, crowd, page, person, scale, scaleout
from .common import fast_stream_rate, new_stream, row, rss
from .servers import HEADERS, bare, jupyter
from .sse_client import read_sse


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    run: Callable[[Path, bool], dict[str, Any]]


# B1 ---------------------------------------------------------------------------


def b1(tmp: Path, quick: bool) -> dict[str, Any]:
    n, runs = (2000, 1) if quick else (20000, 5)
    ours, base = [], []
    server, api = jupyter(tmp / "b1", demo_delay=0)
    with server:
        ours = [asyncio.run(fast_stream_rate(api, n)) for _ in range(runs)]
    baseline, url = bare(n)
    with baseline:

        async def once_bare(flush: int) -> float:
            began = time.perf_counter()
            got = await read_sse(url + f"events?n={n}&flush={flush}", {}, keep=False)
            assert len(got.times) == n + 1
            return n / (got.times[-1] - began)

        base = [asyncio.run(once_bare(1)) for _ in range(runs)]
        batched = [asyncio.run(once_bare(64)) for _ in range(runs)]
    ours_median = statistics.median(ours)
    return {
        "rows": [
            row("events/s, one stream, one subscriber (ours)", ours, "events/s"),
            row("events/s, bare tornado SSE handler, flush per event", base, "events/s"),
            row("events/s, bare tornado SSE handler, flush per 64 events", batched, "events/s"),
            row("ours / bare (flush per event)", [ours_median / statistics.median(base)], "×", "≥ 0.8"),
            row("ours / bare (flush per 64 events)", [ours_median / statistics.median(batched)], "×"),
        ],
        "events": n,
    }


# B2 ---------------------------------------------------------------------------


def b2(tmp: Path, quick: bool) -> dict[str, Any]:
    subscribers, n, runs = (20, 500, 1) if quick else (100, 2000, 3)
    server, api = jupyter(tmp / "b2", demo_delay=0)
    with server:

        async def once() -> list[float]:
            async with httpx.AsyncClient(headers=HEADERS) as client:
                sid = await new_stream(client, api, f"/wait 1.5 /pace 0 /repeat {n} x")
                reads = await asyncio.gather(
                    *[
                        read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS, keep=False)
                        for _ in range(subscribers)
                    ]
                )
            assert all(len(r.times) == n + 1 for r in reads)
            first = min(r.times[0] for r in reads)
            last = max(r.times[-1] for r in reads)
            lags = [r.times[-1] - first for r in reads]
            return [subscribers * n / (last - first), statistics.median(lags) * 1000, max(lags) * 1000]

        ours = [asyncio.run(once()) for _ in range(runs)]
    baseline, url = bare(n)
    with baseline:

        async def once_bare() -> float:
            began = time.perf_counter()
            reads = await asyncio.gather(
                *[read_sse(url + f"events?n={n}", {}, keep=False) for _ in range(subscribers)]
            )
            return subscribers * n / (max(r.times[-1] for r in reads) - began)

        base = [asyncio.run(once_bare()) for _ in range(runs)]
    delivered = [o[0] for o in ours]
    return {
        "rows": [
            row(f"events/s delivered, 1 stream × {subscribers} subscribers (ours)", delivered, "events/s"),
            row(f"events/s delivered, {subscribers} bare handlers", base, "events/s"),
            row("ours / bare", [statistics.median(delivered) / statistics.median(base)], "×"),
            row("time from first event to last subscriber's final", [o[2] for o in ours], "ms"),
        ]
    }


# B4 ---------------------------------------------------------------------------


def b4(tmp: Path, quick: bool) -> dict[str, Any]:
    sizes, runs = ([100, 10000], 5) if quick else ([100, 10000, 100000], 21)
    server, api = jupyter(tmp / "b4", demo_delay=0, replay_window=10000)
    rows, by_kind = [], {"with last id": {}, "without last id": {}}
    with server:

        async def prepare() -> dict[int, str]:
            sids = {}
            async with httpx.AsyncClient(headers=HEADERS, timeout=120) as client:
                for size in sizes:
                    sid = await new_stream(client, api, f"/pace 0 /repeat {size} abcd")
                    await read_sse(api + f"streams/{sid}/events", HEADERS, keep=False)  # until final
                    sids[size] = sid
            return sids

        async def first_event(sid: str, last: int | None) -> float:
            query = "" if last is None else f"?last_event_id={last}"
            began = time.perf_counter()
            got = await read_sse(api + f"streams/{sid}/events{query}", HEADERS, stop_after=1)
            return (got.times[0] - began) * 1000

        sids = asyncio.run(prepare())
        for size, sid in sids.items():
            for kind, last in (("with last id", size - 10), ("without last id", None)):
                values = [asyncio.run(first_event(sid, last)) for _ in range(runs)]
                by_kind[kind][size] = statistics.median(values)
                rows.append(row(f"first event after reconnect, {size:,} events, {kind}", values, "ms"))
    for kind, medians in by_kind.items():
        rows.append(
            row(
                f"long/short ({max(sizes):,} / {min(sizes):,}), {kind}",
                [medians[max(sizes)] / medians[min(sizes)]],
                "×",
                "≤ 1.5",
            )
        )
    return {"rows": rows}


# B5 ---------------------------------------------------------------------------


def b5(tmp: Path, quick: bool) -> dict[str, Any]:
    count = 50 if quick else 500
    active, finished = asyncio.run(_traced_streams(tmp, count))
    return {
        "rows": [
            row(
                "bytes per active stream with one reader (store + job + reader task), beyond its text",
                [active],
                "B",
                "≤ 16 KiB",
                "tracemalloc, in process",
            ),
            row(
                "bytes per finished stream kept for stream_ttl, beyond its text",
                [finished],
                "B",
                note="tracemalloc, in process; 100 events each",
            ),
            row(
                "server RSS growth per active stream with one SSE subscriber",
                [_rss_per_active_stream(tmp, count)],
                "B",
                note="whole process: includes the HTTP connection, handler and allocator slack",
            ),
        ]
    }


async def _traced_streams(tmp: Path, count: int) -> tuple[float, float]:
    import gc
    import tracemalloc

    from jupyter_resumechat.jobs import JobManager, JobSettings
    from jupyter_resumechat.providers.demo import DemoProvider
    from jupyter_resumechat.store import MessageStore
    from jupyter_resumechat.streams import MemoryStreamStore

    manager = JobManager(
        MemoryStreamStore(),
        MessageStore(f"sqlite+aiosqlite:///{tmp / 'b5.db'}"),
        DemoProvider(0.2),
        JobSettings(stream_ttl=3600),
    )
    await manager.start()
    convs = [(await manager.create_conversation("u", "", None))[0] for _ in range(2 * count + 1)]
    warm = await manager.send("u", convs[-1].id, "/pace 0 /repeat 10 abcd")

    async def reader(sid: str) -> None:
        last = 0
        while not (batch := await manager.streams.read_after(sid, last, 15)).done:
            last = batch.events[-1].id if batch.events else last

    await reader(warm.stream_id)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    sids = [(await manager.send("u", c.id, "/pace 0.2 /repeat 100000 abcd")).stream_id for c in convs[:count]]
    tasks = [asyncio.create_task(reader(sid)) for sid in sids]
    await asyncio.sleep(2.1)  # about 11 pieces of 4 bytes, held by the log and by the job
    gc.collect()
    active = (tracemalloc.get_traced_memory()[0] - base) / count - 11 * 4 * 2
    for sid in sids:
        await manager.abort("u", sid)
    await asyncio.gather(*tasks)
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    done = [
        (await manager.send("u", c.id, "/pace 0 /repeat 100 abcd")).stream_id
        for c in convs[count : 2 * count]
    ]
    await asyncio.gather(*[reader(sid) for sid in done])
    gc.collect()
    finished = (tracemalloc.get_traced_memory()[0] - base) / count - 400
    tracemalloc.stop()
    await manager.stop()
    return active, finished


def _rss_per_active_stream(tmp: Path, count: int) -> float:
    server, api = jupyter(tmp / "b5", demo_delay=0.2)
    with server:

        async def active() -> float:
            await asyncio.sleep(1)
            before = rss(server.pid)
            async with httpx.AsyncClient(headers=HEADERS, limits=httpx.Limits(max_connections=20)) as client:
                sids = await asyncio.gather(
                    *[new_stream(client, api, "/pace 0.2 /repeat 100000 abcd") for _ in range(count)]
                )
            readers = [
                asyncio.create_task(
                    read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS, keep=False)
                )
                for sid in sids
            ]
            await asyncio.sleep(3)
            grown = rss(server.pid) - before
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            return grown / count

        return asyncio.run(active())


# B6 ---------------------------------------------------------------------------


def b6(tmp: Path, quick: bool) -> dict[str, Any]:
    from jupyter_resumechat.jobs import JobManager, JobSettings
    from jupyter_resumechat.providers.demo import DemoProvider
    from jupyter_resumechat.streams import MemoryStreamStore
    from tests.support.stores import CountingStore

    streams, seconds, interval = (10, 2, 1.0) if quick else (50, 6, 1.0)

    async def run() -> tuple[float, float]:
        store = CountingStore(f"sqlite+aiosqlite:///{tmp / 'b6.db'}")
        manager = JobManager(
            MemoryStreamStore(), store, DemoProvider(0.05), JobSettings(checkpoint_interval=interval)
        )
        await manager.start()
        for _ in range(streams):
            conv, _ = await manager.create_conversation("u", "", None)
            await manager.send("u", conv.id, f"/pace 0.05 /repeat {int(seconds / 0.05)} x")
        began = asyncio.get_running_loop().time()
        while manager.active_jobs:
            await asyncio.sleep(0.05)
        elapsed = asyncio.get_running_loop().time() - began
        await manager.stop()
        stream_seconds = streams * elapsed
        return store.rows_written / stream_seconds, store.transactions / elapsed

    per_stream, transactions = asyncio.run(run())
    return {
        "rows": [
            row(
                f"checkpoint rows per stream-second ({streams} streams, 20 events/s)",
                [per_stream],
                "rows",
                f"≤ {1 / interval:g}",
            ),
            row(
                "checkpoint transactions per second (all streams together)",
                [transactions],
                "tx/s",
                note="one transaction carries every stream that grew",
            ),
        ]
    }


# B7 ---------------------------------------------------------------------------


def b7(tmp: Path, quick: bool) -> dict[str, Any]:
    """What users do today: tokens printed by a kernel cell, read over the kernel websocket."""
    n, paced, runs = (2000, 40, 1) if quick else (20000, 100, 3)
    server, api = jupyter(tmp / "b7", demo_delay=0)
    base = api.rsplit("resumechat/api/", 1)[0]
    with server:

        async def kernel_run(code: str, count: int) -> tuple[float, list[float]]:
            import json as _json
            import uuid as _uuid

            from tornado.httpclient import HTTPRequest
            from tornado.websocket import websocket_connect

            from tests.support.kernel import execute_request

            async with httpx.AsyncClient(headers=HEADERS) as client:
                kernel = (await client.post(base + "api/kernels", json={"name": "python3"})).json()["id"]
            ws = await websocket_connect(
                HTTPRequest(base.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels", headers=HEADERS)
            )

            async def execute(source: str) -> tuple[float, list[float]]:
                msg_id = _uuid.uuid4().hex
                ws.write_message(execute_request(msg_id, source))
                began, got, lags = time.perf_counter(), 0, []
                while True:
                    msg = _json.loads(await ws.read_message())
                    if msg.get("parent_header", {}).get("msg_id") != msg_id:
                        continue
                    if msg["header"]["msg_type"] == "stream":
                        for piece in msg["content"]["text"].split():
                            got += 1
                            if piece.replace(".", "").isdigit() and "." in piece:
                                lags.append((time.time() - float(piece)) * 1000)
                    elif (
                        msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle"
                    ):
                        return got / (time.perf_counter() - began), lags

            await execute("import sys, time")
            result = await execute(code)
            ws.close()
            async with httpx.AsyncClient(headers=HEADERS) as client:
                await client.delete(base + f"api/kernels/{kernel}")
            return result

        throughput = [
            asyncio.run(
                kernel_run(f"for i in range({n}):\n    sys.stdout.write('x ')\n    sys.stdout.flush()", n)
            )[0]
            for _ in range(runs)
        ]
        lags = asyncio.run(
            kernel_run(
                f"for i in range({paced}):\n    sys.stdout.write(f'{{time.time():.6f}} ')\n    sys.stdout.flush()\n"
                f"    time.sleep(0.05)",
                paced,
            )
        )[1]

        async def ours_once() -> float:
            async with httpx.AsyncClient(headers=HEADERS) as client:
                began = time.perf_counter()
                sid = await new_stream(client, api, f"/pace 0 /repeat {n} x")
                got = await read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS, keep=False)
                return n / (got.times[-1] - began)

        ours = [asyncio.run(ours_once()) for _ in range(runs)]

        async def ours_paced() -> list[float]:
            async with httpx.AsyncClient(headers=HEADERS) as client:
                sid = await new_stream(client, api, f"/wait 1 /pace 0.05 /clock {paced}")
                got = await read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS)
            offset = time.time() - time.perf_counter()
            return [
                (at + offset - float(b.rsplit(b'"text":"', 1)[1].split(b" ", 1)[0])) * 1000
                for b, at in zip(got.blocks, got.times, strict=True)
                if b"event: delta" in b
            ]

        our_lags = asyncio.run(ours_paced())
    lags.sort()
    our_lags.sort()
    return {
        "rows": [
            row("tokens/s printed in a kernel cell, read over the kernel websocket", throughput, "tokens/s"),
            row("events/s through jupyter-resumechat (same server)", ours, "events/s"),
            row(
                "ours / kernel websocket",
                [statistics.median(ours) / statistics.median(throughput)],
                "×",
                "≥ 1",
            ),
            row("latency p50 at 20 tokens/s, kernel websocket", [lags[len(lags) // 2]], "ms"),
            row("latency p50 at 20 events/s, ours", [our_lags[len(our_lags) // 2]], "ms"),
            row("latency p99 at 20 tokens/s, kernel websocket", [lags[int(len(lags) * 0.99)]], "ms"),
            row("latency p99 at 20 events/s, ours", [our_lags[int(len(our_lags) * 0.99)]], "ms"),
        ]
    }


ALL = [
    Scenario("B1", "throughput of one stream against a bare tornado SSE handler", b1),
    Scenario("B2", "fan-out to many subscribers", b2),
    Scenario("B3", "many concurrent streams at a model's pace, against a bare tornado SSE handler", crowd.b3),
    Scenario("B4", "time to resume", b4),
    Scenario("B5", "memory per stream", b5),
    Scenario("B6", "database writes while generating", b6),
    Scenario("B7", "what users do today: printing from a kernel cell", b7),
    Scenario("B8", "fan-out: 1,000 readers of one live reply", scale.fan_out),
    Scenario(
        "B10",
        "a page of panels: N streams over one multiplexed connection vs N connections",
        page.page_of_panels,
    ),
    Scenario(
        "B11",
        "the cost of one tool round trip (decision to final) against a plain reply",
        agent.tool_round_trip,
    ),
    Scenario("B12", "what a person waits for: Send to first token, ten saved chats shown", person.person),
]


# The same scenarios on Redis Streams + PostgreSQL (servers.BACKEND set by run.py).
SHARED = [
    Scenario("B1-redis", "B1 with stream_backend redis:// and PostgreSQL", b1),
    Scenario("B3-redis", "B3 (1,000 concurrent replies) on Redis and PostgreSQL", crowd.b3),
    Scenario("B4-redis", "B4 with stream_backend redis:// and PostgreSQL", b4),
    Scenario(
        "B8-redis",
        "B8 with stream_backend redis:// and PostgreSQL",
        scale.fan_out,
    ),
    Scenario(
        "B9-redis",
        "the Redis path against memory, both on PostgreSQL: one fast stream, a model's pace",
        scale.redis_vs_memory,
    ),
    Scenario(
        "B13-redis",
        "scale-out: two servers behind nginx against one, and a SIGKILL of one",
        scaleout.scale_out,
    ),
]


def render(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"{results['when']} · {results['machine']}"
        + (" · **quick (smoke) run**" if results["quick"] else ""),
        "",
        "Median of the runs, with min and max. Ratios compare with a baseline measured in the same run.",
        "",
        "| id | metric | median | min | max | runs | unit | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sid, result in results["scenarios"].items():
        for r in result["rows"]:
            lines.append(
                f"| {sid} | {r['metric']} | {r['median']:.4g} | {r['min']:.4g} | {r['max']:.4g} | "
                f"{r['runs']} | {r['unit']} | {r['target']} |"
            )
    return "\n".join(lines) + "\n"
