"""Readers that never read: what 30 sockets asking for a finished 20 MB reply pin.

A real Jupyter server with the extension (demo model, memory + SQLite) makes
one reply of ``--mb`` MB; then ``--sockets`` raw sockets ask for its events
(no last id: a snapshot, then the final) and never read a byte.  The server's
RSS is sampled every 50 ms until it has dropped every one of them
(``slow_reader_timeout``), and the peak above the RSS before they came is
reported, in all and per socket.

    python -m bench.stuck_readers [--sockets 30] [--mb 20] [--timeout 30]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.server_process import ServerProcess

from .common import rss
from .servers import HEADERS

PIECE = "x" * 1000


def make_reply(server: ServerProcess, megabytes: int) -> str:
    """A finished reply of ``megabytes`` MB; its stream id."""
    with httpx.Client(headers=HEADERS, timeout=120) as client:
        conv = client.post(server.url("conversations"), json={}).json()
        prompt = f"/pace 0 /repeat {megabytes * 1000} {PIECE}"
        sent = client.post(server.url(f"conversations/{conv['id']}/messages"), json={"content": prompt})
        sent.raise_for_status()
        deadline = time.monotonic() + 600
        while client.get(server.url(f"conversations/{conv['id']}/stream")).json()["active"]:
            assert time.monotonic() < deadline, "the reply did not finish"
            time.sleep(0.2)
        return str(sent.json()["stream_id"])


def readers(server: ServerProcess) -> int:
    return int(httpx.get(server.url("health"), headers=HEADERS, timeout=30).json()["readers"])


def stuck(server: ServerProcess, stream_id: str, count: int) -> list[socket.socket]:
    """``count`` sockets that ask for the stream and will never read."""
    request = (
        f"GET /resumechat/api/streams/{stream_id}/events HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: {HEADERS['Authorization']}\r\n\r\n"
    ).encode()
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(request)
        opened.append(sock)
    return opened


def measure(sockets: int, megabytes: int, timeout: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-stuck-") as tmp:
        server = ServerProcess(Path(tmp), demo_delay=0, slow_reader_timeout=timeout, log_level="WARN")
        with server:
            stream_id = make_reply(server, megabytes)
            before = rss(server.pid)
            began = time.monotonic()
            opened = stuck(server, stream_id, sockets)
            peak, seen_readers, dropped_at = before, 0, 0.0
            while time.monotonic() - began < timeout * 4 + 60:
                peak = max(peak, rss(server.pid))
                now = readers(server)
                seen_readers = max(seen_readers, now)
                if seen_readers and now == 0:
                    dropped_at = time.monotonic() - began
                    break
                time.sleep(0.05)
            for sock in opened:
                sock.close()
    return {
        "sockets": sockets,
        "reply_mb": megabytes,
        "rss_before_mb": before / 1e6,
        "peak_rss_mb": peak / 1e6,
        "peak_growth_mb": (peak - before) / 1e6,
        "growth_per_socket_mb": (peak - before) / 1e6 / sockets,
        "readers_seen": seen_readers,
        "all_dropped_after_s": dropped_at,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=30)
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="slow_reader_timeout, seconds")
    args = parser.parse_args()
    print(json.dumps(measure(args.sockets, args.mb, args.timeout), indent=2))


if __name__ == "__main__":
    main()
