"""Many concurrent replies on one real server on Redis + PostgreSQL: every
reply complete, whole and in order, with no error (issue 14; the bench's
B3-redis runs 1,000 of them, this a smaller 200 that fits a test)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.support.server_process import ServerProcess
from tests.support.services import REDIS_URL

REPLIES = 200
PIECES = 40


async def one_reply(
    client: httpx.AsyncClient, server: ServerProcess, gate: asyncio.Event
) -> tuple[list[int], str]:
    conv = (await client.post(server.url("conversations"), json={})).json()
    sent = await client.post(
        server.url(f"conversations/{conv['id']}/messages"),
        json={"content": f"/wait 1 /pace 0.02 /repeat {PIECES} é😀"},
    )
    assert sent.status_code == 202, sent.text
    await gate.wait()  # every reply started: the readers attach together
    ids, text = [], ""
    url = server.url(f"streams/{sent.json()['stream_id']}/events?last_event_id=0")
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if event == "final":
                    assert data["message"]["status"] == "complete", data["message"].get("error")
                    assert data["message"]["content"] == text
                    return ids, text
                text += data.get("text", "")
    raise AssertionError("the stream closed without a final")


@pytest.mark.timeout(180)
def test_two_hundred_concurrent_replies_on_redis_and_postgresql(tmp_path, postgres_url, redis_prefix) -> None:
    server = ServerProcess(
        tmp_path, db_url=postgres_url, stream_backend=REDIS_URL, redis_prefix=redis_prefix, log_level="WARN"
    )
    with server:

        async def main() -> list[tuple[list[int], str]]:
            limits = httpx.Limits(max_connections=REPLIES + 10)
            async with httpx.AsyncClient(headers=server.headers, limits=limits, timeout=60) as client:
                gate = asyncio.Event()
                replies = [asyncio.create_task(one_reply(client, server, gate)) for _ in range(REPLIES)]
                await asyncio.sleep(0)
                gate.set()
                return await asyncio.gather(*replies)

        results = asyncio.run(main())
    assert len(results) == REPLIES
    for ids, text in results:
        assert ids == list(range(1, PIECES + 2))
        assert text == "é😀" * PIECES
    assert "Traceback" not in server.read_log()
