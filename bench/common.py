"""What every scenario uses: a result row, its statistics, a new stream."""

from __future__ import annotations

import statistics
from typing import Any

import httpx


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
