"""What every scenario uses: a result row, its statistics, a new stream."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .servers import HEADERS
from .sse_client import read_sse


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def row(
    metric: str, values: list[float] | dict[str, float], unit: str, target: str = "", note: str = ""
) -> dict[str, Any]:
    figures = values if isinstance(values, dict) else stats(values)
    return {"metric": metric, **figures, "unit": unit, "target": target, "note": note}


async def new_stream(client: httpx.AsyncClient, api: str, prompt: str) -> str:
    conv = (await client.post(api + "conversations", json={})).json()
    sent = await client.post(api + f"conversations/{conv['id']}/messages", json={"content": prompt})
    sent.raise_for_status()
    return str(sent.json()["stream_id"])


async def fast_stream_rate(api: str, n: int) -> float:
    """Events/s of one reply of ``n`` pieces at full speed, read by one client from its start."""
    async with httpx.AsyncClient(headers=HEADERS) as client:
        began = time.perf_counter()
        sid = await new_stream(client, api, f"/pace 0 /repeat {n} x")
        got = await read_sse(api + f"streams/{sid}/events?last_event_id=0", HEADERS, keep=False)
        assert len(got.times) == n + 1, len(got.times)
        return n / (got.times[-1] - began)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """Jiffies every core spent busy, and in all, since boot (``/proc/stat``)."""
    fields = [float(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)
