"""The data of every kind of event fits its (closed) schema in the OpenAPI
document, as a real server sends it, on each pair of stores: the snapshot is
built by each stream store, so each one is read."""

from __future__ import annotations

import json
from typing import Any

from httpx_sse import aconnect_sse

from tests.support.openapi import check_shape

SCHEMAS = {"snapshot": "SnapshotEvent", "delta": "DeltaEvent", "final": "FinalEvent", "gone": "GoneEvent"}


async def _read(api: Any, path: str, **params: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of one response, as sent, until the server ends it."""
    found = []
    async with aconnect_sse(api.client, "GET", api.url(path), params=params) as source:
        assert source.response.status_code == 200
        async for sse in source.aiter_sse():
            if sse.data:
                found.append((sse.event, json.loads(sse.data)))
    return found


async def test_every_event_fits_its_schema(api):
    conv = await api.conversation()
    sid = (await api.send(conv["id"], "/think weigh the options\nanswer"))["stream_id"]
    replayed = await _read(api, f"streams/{sid}/events", last_event_id="0")  # every delta, then the final
    final_id = len(replayed)
    snapshot = await _read(api, f"streams/{sid}/events")  # finished: a snapshot of it all, then the final
    gone = await _read(api, "streams/events", streams=f"{sid}:{final_id},unknown1")

    assert [kind for kind, _ in snapshot] == ["snapshot", "final"]
    assert sorted((data["stream_id"], data["reason"]) for _, data in gone) == sorted(
        [(sid, "ended"), ("unknown1", "unknown")]
    )
    deltas = {key for kind, data in replayed if kind == "delta" for key in data}
    assert deltas == {"text", "reasoning"}
    for kind, data in replayed + snapshot + gone:
        check_shape(SCHEMAS[kind], data)
