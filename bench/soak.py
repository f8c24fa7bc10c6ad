"""Soak: many streams on a real server, every reader leaving and resuming at random.

    python -m bench.soak --minutes 10 --streams 50 [--redis redis://… --postgres postgresql+asyncpg://…]

Each reader keeps the text it rebuilt and resumes with its last id (or, now
and then, with none: a snapshot); at the end every text must equal the
committed message, and no delta may arrive twice. Prints what it survived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import httpx

from .servers import HEADERS, jupyter

PIECE = "é😀 soak "


async def reader(
    client: httpx.AsyncClient, api: str, sid: str, rng: random.Random, counts: dict[str, int]
) -> str:
    text, last, seen = "", None, set()
    while True:
        if last is not None and rng.random() < 0.15:
            text, last = "", None
            counts["resumes_without_id"] += 1
        headers = {} if last is None else {"Last-Event-ID": str(last)}
        budget = rng.randint(1, 200)
        async with client.stream("GET", api + f"streams/{sid}/events", headers=headers) as response:
            if response.status_code == 404:
                raise AssertionError(f"stream {sid} expired while being read")
            event: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(": ")
                    event[key] = value
                    continue
                if line or "data" not in event:
                    continue
                seq, kind, data = int(event["id"]), event["event"], json.loads(event["data"])
                event = {}
                if kind == "snapshot":
                    text = data["content"]
                elif kind == "delta":
                    if seq in seen:
                        counts["duplicates"] += 1
                    seen.add(seq)
                    text += data.get("text", "")
                last = seq
                if kind == "final":
                    counts["finals"] += 1
                    return text
                budget -= 1
                if budget == 0:
                    break
        counts["reconnects"] += 1


async def soak(api: str, minutes: float, streams: int) -> dict[str, int]:
    counts = {"streams": 0, "reconnects": 0, "resumes_without_id": 0, "duplicates": 0, "finals": 0, "lost": 0}
    deadline = time.monotonic() + minutes * 60
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=streams * 2)
    async with httpx.AsyncClient(headers=HEADERS, timeout=120, limits=limits) as client:

        async def one_stream(index: int) -> None:
            while time.monotonic() < deadline:
                conv = (await client.post(api + "conversations", json={})).json()
                size = rng.randint(100, 2000)
                sent = (
                    await client.post(
                        api + f"conversations/{conv['id']}/messages",
                        json={"content": f"/pace 0.002 /repeat {size} {PIECE}"},
                    )
                ).json()
                text = await reader(
                    client, api, sent["stream_id"], random.Random(index * 7919 + size), counts
                )
                counts["streams"] += 1
                if text != PIECE * size:
                    counts["lost"] += 1

        await asyncio.gather(*[one_stream(i) for i in range(streams)])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--redis", default="")
    parser.add_argument("--postgres", default="")
    args = parser.parse_args()
    traits = {"demo_delay": 0.002, "replay_window": 256}
    if args.redis:
        traits.update(stream_backend=args.redis, redis_prefix=f"soak:{time.time_ns()}:")
    if args.postgres:
        traits["db_url"] = args.postgres
    with tempfile.TemporaryDirectory() as tmp:
        server, api = jupyter(Path(tmp), **traits)
        with server:
            counts = asyncio.run(soak(api, args.minutes, args.streams))
    print(json.dumps(counts))
    if counts["lost"] or counts["duplicates"]:
        raise SystemExit("words were lost or duplicated")


if __name__ == "__main__":
    main()
