"""B11: the cost of one tool round trip against a plain reply (issue 27).

A run whose one call asks for approval: the time from the decision's 200 to
the run's ``final`` (adopt the parked run, reclaim its stream, run the file
tool, commit and announce each move, one more model call, the final commit),
against a plain reply's send-to-``final`` on the same server, demo model at
full speed: what the tool machinery adds, not what a model costs.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from .common import row
from .servers import HEADERS, jupyter

__all__ = ["tool_round_trip"]

DEADLINE = 120.0  # seconds: far beyond a round trip even on a loaded machine


async def _events(client: httpx.AsyncClient, url: str) -> Any:
    """(event, data) of an event stream, as they arrive."""
    async with client.stream("GET", url) as response:
        kind = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                yield kind, json.loads(line[5:])


async def _plain(client: httpx.AsyncClient, api: str) -> float:
    conv = (await client.post(api + "conversations", json={})).json()
    began = time.perf_counter()
    sent = (
        await client.post(api + f"conversations/{conv['id']}/messages", json={"content": "/repeat 3 ok"})
    ).json()
    async for kind, _ in _events(client, api + f"streams/{sent['stream_id']}/events"):
        if kind == "final":
            return (time.perf_counter() - began) * 1000
    raise RuntimeError("no final")


async def _round_trip(client: httpx.AsyncClient, api: str, index: int) -> float:
    """One round trip; one that has not ended after ``DEADLINE`` fails naming what the
    server held then (a CI run once waited 18 minutes for a final that never came)."""
    conv = (await client.post(api + "conversations", json={})).json()
    try:
        return await asyncio.wait_for(_trip(client, api, conv["id"], index), DEADLINE)
    except asyncio.TimeoutError:
        status = (await client.get(api + f"conversations/{conv['id']}/stream")).json()
        held = (await client.get(api + f"conversations/{conv['id']}/messages")).json()
        raise RuntimeError(f"no final after {DEADLINE:g} s: stream {status}, messages {held}") from None


async def _trip(client: httpx.AsyncClient, api: str, cid: str, index: int) -> float:
    body = {"content": f'/tool file_write {{"path": "b11-{index}.txt", "content": "x"}}', "tools": "all"}
    sent = (await client.post(api + f"conversations/{cid}/messages", json=body)).json()
    began = 0.0
    async for kind, data in _events(client, api + f"streams/{sent['stream_id']}/events"):
        waiting = _waiting(kind, data)
        if waiting and not began:
            path = f"streams/{sent['stream_id']}/tools/{waiting}/decision"
            began = time.perf_counter()
            (await client.post(api + path, json={"decision": "approve"})).raise_for_status()
        elif kind == "final":
            assert data["message"]["status"] == "complete", data
            return (time.perf_counter() - began) * 1000
    raise RuntimeError("no final")


def _waiting(kind: str, data: dict[str, Any]) -> str:
    """The id of a call awaiting approval that this event shows, else "".  A reader that
    attaches after the run parked gets it in the first event, the ``snapshot``'s parts
    (docs/protocol.md#the-event-stream): one in 900 round trips on a loaded machine, which
    hung this bench for 18 minutes while it looked only at ``tool`` events."""
    if kind == "tool":
        calls = [data["call"]]
    elif kind == "snapshot":
        calls = [part["call"] for part in data.get("parts") or [] if part["type"] == "tool"]
    else:
        return ""
    return next((str(call["id"]) for call in calls if call["status"] == "awaiting_approval"), "")


def tool_round_trip(tmp: Path, quick: bool) -> dict[str, Any]:
    runs = 3 if quick else 30
    server, api = jupyter(tmp / "b11", demo_delay=0)

    async def measure() -> tuple[list[float], list[float]]:
        async with httpx.AsyncClient(headers=HEADERS, timeout=60) as client:
            await _plain(client, api)  # warm: imports, connections, the schema
            await _round_trip(client, api, -1)
            plain, trips = [], []
            for index in range(runs):  # alternating, so load drift hits both alike
                plain.append(await _plain(client, api))
                trips.append(await _round_trip(client, api, index))
            return plain, trips

    with server:
        plain, trips = asyncio.run(measure())
    return {
        "rows": [
            row("a plain reply, send to final", plain, "ms"),
            row("a tool round trip, decision to final (file_write, then the model again)", trips, "ms"),
            row("round trip / plain reply", [statistics.median(trips) / statistics.median(plain)], "×"),
        ]
    }
