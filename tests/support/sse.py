"""Server-sent events read line by line, for the tests that drive a server with a
blocking client (httpx's ``iter_lines``): one parser, not one per test module."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each event as ``{"id": int, "event": str, "data": <decoded JSON>}``, in order;
    comment lines (keepalives) and ``retry:`` are passed over."""
    current: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            current = {"id": int(line[4:])}
        elif line.startswith("event: "):
            current["event"] = line[7:]
        elif line.startswith("data: "):
            current["data"] = json.loads(line[6:])
            yield current
            current = {}
