"""B13, scale-out (issue 22 item 3): two servers on Redis + PostgreSQL behind
one nginx, against one server behind the same nginx, in the same run.

* **One server**: N replies × 20 pieces/s sent and read through nginx; every
  reader leaves halfway and resumes with its last id (through nginx, so on
  either server).
* **Two servers**: 2N replies the same way; nginx spreads the sends (so the
  generations) and the readers over both, and about half the resumes land on
  the other server.  Events/s two / one is the figure (target ≥ 1.8 at the
  same p99); the share of the machine's cores busy says what bounds it.
* **A SIGKILL mid-run**: two servers, N replies; one server is killed halfway.
  Its readers resume through nginx on the survivor, which adopts the dead
  server's replies after the owner lease and ends them ``interrupted`` with
  their text.  Each piece carries the time it was made (``/clock``), so the
  reply lost by an adopted reply is the kill's time minus its last kept
  piece's: target ≤ ``checkpoint_interval``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server_process import ServerProcess

from .common import new_stream, row
from .crowd import crowd
from .proxy import NGINX, Nginx
from .servers import HEADERS, jupyter
from .sse_client import Received, read_sse

__all__ = ["scale_out"]

PACE = 0.05
CHECKPOINT = 1.0  # checkpoint_interval of the servers: what a kill may lose at most
LEASE = 10.0  # owner_lease (the default): how soon the survivor adopts the dead server's replies
REFUSED = [0]  # 503 answers retried, in the current run
LAST_ID = re.compile(rb"^id: (\d+)", re.MULTILINE)


def _last_id(got: Received) -> int:
    for block in reversed(got.blocks):
        found = LAST_ID.match(block)
        if found:
            return int(found.group(1))
    return 0


async def _resuming(url: str, halfway: int | None) -> Received:
    """Read ``url`` to its final, leaving after ``halfway`` events (then resuming with the last
    id) and resuming whenever the connection breaks (a killed server), as the client does."""
    got = Received()
    for _ in range(50):
        last = _last_id(got)
        target = re.sub(r"last_event_id=\d+", f"last_event_id={last}", url)
        try:
            await read_sse(target, HEADERS, stop_after=halfway, into=got)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await asyncio.sleep(0.2)  # the server died under the connection: resume, as a client does
            continue
        if got.status == 503:  # a server too busy to get a Redis connection in time: again, as a client does
            REFUSED[0] += 1
            await asyncio.sleep(0.5)
            continue
        halfway = None
        if got.status != 200 or (got.blocks and b"event: final" in got.blocks[-1]):
            return got
    raise RuntimeError(f"{url}: no final after 50 connections")


async def _start(api: str, streams: int, events: int, wait: float) -> tuple[list[str], float]:
    """``streams`` replies that all start ``wait`` s from now; their ids, and that start."""
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(headers=HEADERS, limits=limits, timeout=120) as client:
        start = time.time() + wait
        prompt = f"/at {start:.6f} /pace {PACE} /clock {events}"
        sids = await asyncio.gather(*[new_stream(client, api, prompt) for _ in range(streams)])
    return list(sids), start


async def _run(api: str, pids: list[int], streams: int, seconds: float) -> dict[str, Any]:
    events = int(seconds / PACE)
    wait = 3 + streams * 0.04
    sids, start = await _start(api, streams, events, wait)
    urls = [api + f"streams/{sid}/events?last_event_id=0" for sid in sids]

    async def read(url: str) -> Received:
        return await _resuming(url, events // 2)

    REFUSED[0] = 0
    result = await crowd(urls, pids, events, start - time.time(), seconds, lambda: 0, read)
    return {**result, "refused": REFUSED[0]}


async def _killed(api: str, victim: ServerProcess, streams: int, seconds: float) -> dict[str, Any]:
    """Replies read through nginx while ``victim`` is SIGKILLed halfway; what each adopted reply lost."""
    events = int(seconds / PACE)
    sids, start = await _start(api, streams, events, 3 + streams * 0.04)
    urls = [api + f"streams/{sid}/events?last_event_id=0" for sid in sids]
    reads = asyncio.gather(*[_resuming(url, None) for url in urls], return_exceptions=True)

    async def kill() -> float:
        await asyncio.sleep(max(0.0, start - time.time()) + seconds / 2)
        killed_at = time.time()
        victim.kill(signal.SIGKILL)
        return killed_at

    killed_at, got = await asyncio.gather(kill(), reads)
    losses, interrupted, errors = [], 0, 0
    for read in got:
        final = None if isinstance(read, BaseException) or not read.blocks else read.blocks[-1]
        if final is None or b"event: final" not in final:
            errors += 1
            continue
        if b'"status":"interrupted"' not in final:
            continue
        interrupted += 1
        kept = re.findall(rb"(\d{9,}\.\d+) ", final)
        last_kept = float(kept[-1]) if kept else start
        losses.append(max(0.0, killed_at - last_kept))
    return {"losses": losses, "interrupted": interrupted, "errors": errors}


def scale_out(tmp: Path, quick: bool) -> dict[str, Any]:
    if not Path(NGINX).exists():
        return {"rows": [], "skipped": "Debian's nginx is not installed (apt-get install -y nginx)"}
    streams, seconds = (60, 3.0) if quick else (1000, 10.0)
    traits = {"demo_delay": PACE, "checkpoint_interval": CHECKPOINT, "owner_lease": LEASE}
    root = tmp / "b13"
    shutil.rmtree(root, ignore_errors=True)
    first, _ = jupyter(root / "one", **traits)
    second, _ = jupyter(root / "two", **traits)
    with first:
        # the second server starts after the one-server run: an idle peer would adopt the
        # replies of a server so busy that it renews its lease late (a loaded server's loop
        # lags by seconds), and end them interrupted under their readers
        with Nginx(root / "nginx-one", [f"127.0.0.1:{first.port}"]) as proxy:
            one = asyncio.run(_run(proxy.base + "resumechat/api/", [first.pid], streams, seconds))
        hosts = [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"]
        with second, Nginx(root / "nginx-two", hosts) as proxy:
            two = asyncio.run(
                _run(proxy.base + "resumechat/api/", [first.pid, second.pid], 2 * streams, seconds)
            )
            killed = asyncio.run(_killed(proxy.base + "resumechat/api/", second, streams, seconds))
    ratio = two["throughput"] / max(one["throughput"], 1e-9)
    losses = killed["losses"] or [0.0]
    return {
        "rows": [
            row(
                f"one server: events/s, {streams} replies × {1 / PACE:g}/s, resumed halfway",
                [one["throughput"]],
                "events/s",
            ),
            row("one server: added latency p99", [one["p99"]], "ms"),
            row("one server: errors", [one["errors"]], "streams", "0"),
            row(
                "one server: 503 answers (no Redis connection in 20 s), retried", [one["refused"]], "answers"
            ),
            row("one server: its CPU", [one["cpu"]], "% of one core"),
            row("one server: machine busy (every core)", [one["machine"]], "%"),
            row(
                f"two servers: events/s, {2 * streams} replies, resumed halfway",
                [two["throughput"]],
                "events/s",
            ),
            row("two servers: added latency p99", [two["p99"]], "ms"),
            row("two servers: errors", [two["errors"]], "streams", "0"),
            row(
                "two servers: 503 answers (no Redis connection in 20 s), retried", [two["refused"]], "answers"
            ),
            row("two servers: their CPU", [two["cpu"]], "% of one core"),
            row("two servers: machine busy (every core)", [two["machine"]], "%"),
            row("two servers / one, events/s", [ratio], "×", "≥ 1.8"),
            row("two servers / one, latency p99", [two["p99"] / max(one["p99"], 1e-9)], "×", "≤ 1"),
            row(f"SIGKILL of one of two: replies adopted, of {streams}", [killed["interrupted"]], "replies"),
            row("SIGKILL: reply lost, worst adopted reply", [max(losses)], "s", f"≤ {CHECKPOINT:g}"),
            row("SIGKILL: reply lost, median adopted reply", [sorted(losses)[len(losses) // 2]], "s"),
            row("SIGKILL: replies with no final", [killed["errors"]], "replies", "0"),
        ]
    }
