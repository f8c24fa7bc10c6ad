"""The chaos reader of the test kit: leaves and resumes a stream at random.

Used by the chaos test and by the soak benchmark.  It decodes with the
package's own ``eventstream`` (the one decoder) and rebuilds the text with
``Reply`` (the one rebuild, docs/protocol.md#exactly-once), counting what it survived.
"""

from __future__ import annotations

import random
from collections import Counter

import httpx
from httpx_sse import aconnect_sse

from jupyter_resumechat.eventstream import Reply, decode_event
from jupyter_resumechat.models import EventKind

__all__ = ["chaotic_read"]


async def chaotic_read(
    client: httpx.AsyncClient,
    events_url: str,
    rng: random.Random,
    counts: Counter[str],
    *,
    max_batch: int = 40,
    fresh_rate: float = 0.2,
    query_rate: float = 0.5,
) -> str:
    """Read a stream to its final in batches of 1..``max_batch`` events, hanging up
    after each; now and then resume with no id (a snapshot), and give the last id
    as a header or as the query parameter.  Returns the rebuilt text; counts
    ``reconnects``, ``without_id``, ``duplicates`` (deltas seen twice), ``finals``
    and ``final_differs`` (the final's message is not the text the events built)."""
    reply, last, seen = Reply(), None, set()
    while True:
        if last is not None and rng.random() < fresh_rate:
            reply, last = Reply(), None
            counts["without_id"] += 1
        headers, params = {}, {}
        if last is not None:
            if rng.random() < query_rate:
                params["last_event_id"] = str(last)
            else:
                headers["Last-Event-ID"] = str(last)
        budget = rng.randint(1, max_batch)
        async with aconnect_sse(client, "GET", events_url, headers=headers, params=params) as source:
            status = source.response.status_code
            if status != 200:
                body = (await source.response.aread())[:300].decode(errors="replace")
                raise AssertionError(f"{events_url} answered {status} while being read: {body}")
            async for sse in source.aiter_sse():
                if not sse.data:
                    continue
                event = decode_event(sse.event, sse.data, sse.id)
                if event.kind is EventKind.FINAL:  # the text as rebuilt, not as the final says
                    counts["finals"] += 1
                    counts["final_differs"] += event.content != reply.content
                    return reply.content
                if event.kind is EventKind.DELTA:
                    counts["duplicates"] += event.id in seen
                    seen.add(event.id)
                reply.apply(event)
                last = event.id
                budget -= 1
                if not budget:
                    break
        counts["reconnects"] += 1
