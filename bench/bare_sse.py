"""The baseline: a bare tornado SSE handler writing the same events as ours.

``GET /events?n=N`` writes N delta events (``id``, ``event``, one JSON
``data`` line, the same bytes as jupyter-resumechat's), flushing each, as a
minimal streaming endpoint would; then a ``final``.  With ``flush=K`` it
flushes every K events instead: the same stack at its best, batching writes.

``GET /paced?n=N&pace=P&start=T`` is B3's reply at a model's pace: from the
wall-clock time T on, one delta every P seconds whose text is the time it
was written (as the demo model's ``/clock``), each flushed; then a ``final``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from tornado import web


class Events(web.RequestHandler):
    async def get(self) -> None:
        count = int(self.get_query_argument("n"))
        text = self.get_query_argument("text", "x")
        every = int(self.get_query_argument("flush", "1"))
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.write(b"retry: 2000\n\n")
        await self.flush()
        data = json.dumps({"text": text}, ensure_ascii=False, separators=(",", ":"))
        for seq in range(1, count + 1):
            self.write(f"id: {seq}\nevent: delta\ndata: {data}\n\n".encode())
            if seq % every == 0:
                await self.flush()
        self.write(f"id: {count + 1}\nevent: final\ndata: {{}}\n\n".encode())
        self.finish()


class Paced(web.RequestHandler):
    async def get(self) -> None:
        count = int(self.get_query_argument("n"))
        pace = float(self.get_query_argument("pace"))
        start = float(self.get_query_argument("start"))
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.write(b"retry: 2000\n\n")
        await self.flush()
        for seq in range(1, count + 1):
            await asyncio.sleep(max(0.0, start + (seq - 1) * pace - time.time()))
            data = json.dumps({"text": f"{time.time():.6f} "}, separators=(",", ":"))
            self.write(f"id: {seq}\nevent: delta\ndata: {data}\n\n".encode())
            await self.flush()
        self.write(f"id: {count + 1}\nevent: final\ndata: {{}}\n\n".encode())
        self.finish()


class Ping(web.RequestHandler):
    def get(self) -> None:
        self.write("ok")


async def main(port: int) -> None:
    web.Application([(r"/events", Events), (r"/paced", Paced), (r"/ping", Ping)]).listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
