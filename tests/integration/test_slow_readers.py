"""A reader that stops reading costs the server at most one batch, then is dropped."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from tests.integration.test_resume import until

PIECE = "x" * 1000


@pytest.fixture
def resumechat_config(resumechat_config):
    return {**resumechat_config, "slow_reader_timeout": 1.0}


async def test_a_stuck_reader_is_dropped_and_the_job_goes_on(api, extension, jp_auth_header):
    conv = await api.conversation()
    sent = await api.send(conv["id"], f"/pace 0 /repeat 20000 {PIECE}")
    sid, manager = sent["stream_id"], extension.manager
    url = urlsplit(api.url(f"streams/{sid}/events"))
    _reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        (
            f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nLast-Event-ID: 0\r\n"
            f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await until(lambda: manager.subscriber_count(sid) == 1)
    # never read: the socket fills, the server's flush stalls, the reader is dropped
    await until(lambda: manager.subscriber_count(sid) == 0, timeout=60)
    final = await api.wait_final(sid)
    assert final["status"] == "complete" and len(final["content"]) == 20000 * len(PIECE)
    writer.close()
