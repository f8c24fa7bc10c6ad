"""Chaos: many concurrent streams, each reader leaving and resuming at random."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.support.fixtures import rebuild

PIECE = "é😀 "


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "replay_window": 64, "max_active_per_user": 0}


async def chaotic_reader(api, sid: str, rng: random.Random, counts: dict[str, int]) -> str:
    text, last, ids = "", None, []
    while True:
        if last is not None and rng.random() < 0.2:
            text, last = "", None  # sometimes come back with nothing: a snapshot
            counts["without_id"] += 1
        read = await api.events(sid, last_id=last, stop_after=rng.randint(1, 40), query=rng.random() < 0.5)
        assert read.status == 200
        for event in read.events:
            if event.event == "delta":
                assert event.id not in ids, "a delta arrived twice"
                ids.append(event.id)
        text = rebuild(read.events, text)
        last = read.events[-1].id if read.events else last
        if read.events and read.events[-1].event == "final":
            return text
        counts["reconnects"] += 1


async def test_concurrent_streams_with_random_disconnects_lose_nothing(api):
    rng = random.Random(7)
    counts = {"reconnects": 0, "without_id": 0}
    convs = [await api.conversation() for _ in range(12)]
    sizes = [rng.randint(50, 400) for _ in convs]
    sent = [
        await api.send(c["id"], f"/pace 0.002 /repeat {n} {PIECE}")
        for c, n in zip(convs, sizes, strict=False)
    ]
    texts = await asyncio.gather(
        *[chaotic_reader(api, s["stream_id"], random.Random(i), counts) for i, s in enumerate(sent)]
    )
    for text, n in zip(texts, sizes, strict=False):
        assert text == PIECE * n
    assert counts["reconnects"] > 50
    print(
        f"chaos: {len(sent)} streams, {counts['reconnects']} reconnects, "
        f"{counts['without_id']} without a last id, nothing lost"
    )
