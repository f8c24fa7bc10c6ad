"""A minimal raw HTTP/1.1 SSE reader on asyncio streams.

The benchmarks need a client cheap enough that a thousand of them in one
process measure the server, not the client: no HTTP library, just the
request line, the headers, chunked decoding and event splitting.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Received:
    """Events (raw blocks) with the monotonic time each arrived."""

    status: int = 0
    blocks: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    connected_at: float = 0.0


async def read_sse(
    url: str,
    headers: dict[str, str],
    *,
    stop_after: int | None = None,
    keep: bool = True,
    finals: int = 1,
    into: Received | None = None,
) -> Received:
    """GET ``url`` and collect event blocks until ``finals`` finals (a multiplexed
    response carries one per stream) or ``stop_after`` events in all.  ``into``: add
    to what an earlier read collected (a resume), which keeps what arrived before a
    connection broke."""
    parts = urlsplit(url)
    result = into if into is not None else Received()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    result.connected_at = time.perf_counter()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: text/event-stream"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        result.status = int(head.split(b" ", 2)[1])
        if result.status != 200:
            return result
        chunked = b"chunked" in head.lower()
        buffer = b""
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                if size == 0:
                    return result
                data = await reader.readexactly(size + 2)
                buffer += data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return result
                buffer += data
            *blocks, buffer = buffer.split(b"\n\n")
            now = time.perf_counter()
            for block in blocks:
                if not block.startswith(b"id: "):
                    continue
                if keep:
                    result.blocks.append(block)
                result.times.append(now)
                finals -= b"event: final" in block
                if finals <= 0 or (stop_after and len(result.times) >= stop_after):
                    return result
    finally:
        writer.close()
