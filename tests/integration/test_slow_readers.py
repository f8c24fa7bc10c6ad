"""A reader that stops reading costs the server at most one batch, then is dropped."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from bench.stuck_readers import measure
from jupyter_resumechat.handlers.events import WRITE_PIECE
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


async def test_a_stuck_reader_of_several_streams_is_dropped_and_releases_them(api, extension, jp_auth_header):
    sids = []
    for _ in range(3):  # about 1 MB/s each, for longer than the test: none ends while it runs
        conv = await api.conversation()
        sids.append((await api.send(conv["id"], f"/pace 0.001 /repeat 100000 {PIECE}"))["stream_id"])
    manager = extension.manager
    url = urlsplit(api.url("streams/events"))
    _reader, writer = await asyncio.open_connection(url.hostname, url.port)
    query = "%2C".join(f"{sid}%3A0" for sid in sids)
    writer.write(
        (
            f"GET {url.path}?streams={query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: {jp_auth_header['Authorization']}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await until(lambda: all(manager.subscriber_count(sid) == 1 for sid in sids))
    # never read: the server's flush stalls, the connection and all its streams are let go
    await until(lambda: all(manager.subscriber_count(sid) == 0 for sid in sids), timeout=60)
    assert manager.active_jobs == len(sids)  # the replies go on without their reader
    for sid in sids:
        stopped = (await api.request("POST", f"streams/{sid}/abort")).json()
        assert stopped["status"] == "aborted" and stopped["content"] == PIECE * (
            len(stopped["content"]) // 1000
        )
    writer.close()


def test_readers_that_never_read_a_finished_reply_pin_no_copy_of_it(tmp_path) -> None:
    """Issue 26: 30 sockets that never read a finished 20 MB reply made the server
    grow by 2.4 GB (81 MB each: the snapshot, the final and a framed copy, per
    socket).  The readers share the reply's bytes; each pins a piece or two of
    its own until it is dropped.  Here 10 sockets and a 10 MB reply, in a real
    server process; the bound leaves room for the shared bytes and the garbage
    of encoding them once (bench/stuck_readers.py measures the 30 x 20 MB case)."""
    sockets, megabytes = 10, 10
    found = measure(sockets, megabytes, timeout=5.0)
    assert found["readers_seen"] == sockets, found
    bound = 5 * megabytes * 1e6 + sockets * 4 * WRITE_PIECE
    assert found["peak_growth_mb"] * 1e6 < bound, found
