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
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx

from tests.support.chaos import chaotic_read

from .servers import HEADERS, jupyter

PIECE = "é😀 soak "


async def answer(request: Awaitable[httpx.Response], status: int) -> dict[str, Any]:
    """The JSON of an answer that must have ``status``; anything else stops the soak, named."""
    response = await request
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return dict(response.json())


async def soak(api: str, minutes: float, streams: int) -> dict[str, int]:
    counts: Counter[str] = Counter(streams=0, lost=0, duplicates=0, final_differs=0)
    deadline = time.monotonic() + minutes * 60
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=streams * 2)
    async with httpx.AsyncClient(headers=HEADERS, timeout=120, limits=limits) as client:

        async def one_stream(index: int) -> None:
            while time.monotonic() < deadline:
                conv = await answer(client.post(api + "conversations", json={}), 201)
                size = rng.randint(100, 2000)
                sent = await answer(
                    client.post(
                        api + f"conversations/{conv['id']}/messages",
                        json={"content": f"/pace 0.002 /repeat {size} {PIECE}"},
                    ),
                    202,
                )
                text = await chaotic_read(
                    client,
                    api + f"streams/{sent['stream_id']}/events",
                    random.Random(index * 7919 + size),
                    counts,
                    max_batch=200,
                    fresh_rate=0.15,
                    query_rate=0,
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
    if counts["lost"] or counts["duplicates"] or counts["final_differs"]:
        raise SystemExit("words were lost or duplicated")


if __name__ == "__main__":
    main()
