"""Chaos: many concurrent streams, each reader leaving and resuming at random."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest

from tests.support.chaos import chaotic_read

PIECE = "é😀 "


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "replay_window": 64, "max_active_per_user": 0}


async def test_concurrent_streams_with_random_disconnects_lose_nothing(api):
    rng = random.Random(7)
    counts: Counter[str] = Counter()
    convs = [await api.conversation() for _ in range(12)]
    sizes = [rng.randint(50, 400) for _ in convs]
    sent = [
        await api.send(c["id"], f"/pace 0.01 /repeat {n} {PIECE}")  # live while read: real resumes
        for c, n in zip(convs, sizes, strict=False)
    ]
    texts = await asyncio.gather(
        *[
            chaotic_read(api.client, api.url(f"streams/{s['stream_id']}/events"), random.Random(i), counts)
            for i, s in enumerate(sent)
        ]
    )
    for text, n in zip(texts, sizes, strict=False):
        assert text == PIECE * n
    # the number of reconnects depends on the machine's speed; at least one per stream does not
    assert counts["reconnects"] >= len(sent) and counts["finals"] == len(sent)
    assert counts["duplicates"] == 0 and counts["final_differs"] == 0
    print(
        f"chaos: {len(sent)} streams, {counts['reconnects']} reconnects, "
        f"{counts['without_id']} without a last id, nothing lost"
    )
