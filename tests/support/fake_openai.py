"""A local HTTP server that speaks the OpenAI Chat Completions streaming API.

The model name picks the behaviour, so one server covers every path of the
real ``openai`` SDK: a normal stream, reasoning, a 500 before the first
chunk, a connection cut mid-stream, a stall, a stream without a finish.

``FAULT_BEHAVIOURS`` add the faults of ``tests/integration/test_fault_provider.py``:
text a store cannot keep (U+0000, lone surrogates, a UTF-16 pair split across
two chunks), chunks of the wrong shape, and slow or steady streams whose length
and pace the user's message sets (``count=40 pace=0.1``).  ``FakeOpenAI`` runs on
the test's event loop; ``ThreadedFakeOpenAI`` on a loop of its own in a thread,
so it keeps serving while the test blocks or while a server process is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from dataclasses import dataclass
from typing import Any

from tornado import httpserver, iostream, testing, web

BEHAVIOURS = [
    "gpt-ok",
    "gpt-reasoning",
    "gpt-500",
    "gpt-cut",
    "gpt-stall",
    "gpt-unfinished",
    "gpt-garbage",
    "gpt-slow-first",
]

# Text the stores cannot keep as is.  Each model streams these pieces as the
# content of consecutive chunks (json.dumps writes "\u0000", "\ud800"… escapes),
# then a finish; NORMALISED is what the reply must hold (docs/protocol.md#one-bad-reply).
TEXT_FAULTS: dict[str, list[str]] = {
    "gpt-nul": ["Echo", ": ", "nul\x00here", " and\x00\x00", " end"],
    "gpt-lone-high": ["Echo", ": ", "lone \ud800 high", " end"],
    "gpt-lone-low": ["Echo", ": ", "lone \udc00 low", " end"],
    # one pair, split: chunk 1 ends with the high half, chunk 2 starts with the low one
    "gpt-split-pair": ["Echo", ": ", "smile \ud83d", "\ude00 end"],
    # a high half at the end of a chunk that no low half follows
    "gpt-high-then-text": ["Echo", ": ", "cut \ud83d", "x end"],
    # a high half in the last chunk of the stream
    "gpt-high-at-end": ["Echo", ": ", "last \ud83d"],
}
NORMALISED: dict[str, str] = {
    "gpt-nul": "Echo: nul\ufffdhere and\ufffd\ufffd end",
    "gpt-lone-high": "Echo: lone \ufffd high end",
    "gpt-lone-low": "Echo: lone \ufffd low end",
    "gpt-split-pair": "Echo: smile \U0001f600 end",
    "gpt-high-then-text": "Echo: cut \ufffdx end",
    "gpt-high-at-end": "Echo: last \ufffd",
}
# Reasoning with a NUL and a split pair, then plain text.
REASONING_FAULT = ["think\x00ing ", "\ud83d", "\ude00 done"]
REASONING_NORMALISED = "think\ufffding \U0001f600 done"

# Chunks of the wrong shape, sent after "Echo: hello " (like gpt-garbage).
_BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
# A choice without a delta is tolerated on purpose (servers send one with the
# finish reason), so it is not here.
MALFORMED: dict[str, bytes] = {
    "gpt-garbage": b"data: {not json\n\n",
    "gpt-choices-string": b"data: " + json.dumps({**_BASE, "choices": "x"}).encode() + b"\n\n",
    "gpt-content-number": b"data: "
    + json.dumps(
        {**_BASE, "choices": [{"index": 0, "delta": {"content": 42}, "finish_reason": None}]}
    ).encode()
    + b"\n\n",
    "gpt-chunk-array": b"data: [1, 2]\n\n",
}

# Long streams: "Echo: " then ``count`` chunks "w<i> " every ``pace`` seconds.
# gpt-slow-nul sends one bad piece first ("bad\x00 ").
SLOW = {"gpt-slow": "", "gpt-slow-nul": "bad\x00 ", "gpt-steady": ""}

FAULT_BEHAVIOURS = [*TEXT_FAULTS, "gpt-nul-reasoning", *[m for m in MALFORMED if m != "gpt-garbage"], *SLOW]


# Tool-calling models: the first user message scripts the run, a line ``CALL name {json}`` a call,
# a line ``THEN`` the next round; when the rounds are done the model answers "Results: " and the
# tool results it was sent, joined by " | ".  How each streams its calls:
#   gpt-tools        ids and names first, arguments in 5-character pieces, calls interleaved (OpenAI)
#   gpt-tools-noid   the same without any id (some local servers)
#   gpt-tools-whole  every call whole in one piece, all at index 0, each with its own id (Ollama-like)
TOOL_MODELS = ["gpt-tools", "gpt-tools-noid", "gpt-tools-whole"]
# gpt-tools-gated streams a round's calls as gpt-tools does, then holds the round's finish until
# the test sets ``FakeOpenAI.gate``: a fault can be put exactly where the server commits the calls.
GATED = "gpt-tools-gated"


def tool_script(request: dict[str, Any]) -> list[tuple[str, str]] | None:
    """This round's calls, or None once every scripted round was made."""
    first = next(m["content"] for m in request["messages"] if m["role"] == "user")
    rounds = [
        [
            tuple(line[5:].split(" ", 1)) if " " in line[5:] else (line[5:], "{}")
            for line in block.splitlines()
            if line.startswith("CALL ")
        ]
        for block in re.split(r"^THEN$", first, flags=re.M)
    ]
    done = sum(1 for m in request["messages"] if m["role"] == "assistant" and m.get("tool_calls"))
    if done >= len(rounds):
        return None
    inserted = last_inserted(request)
    return [(name, arguments.replace(LAST_INSERTED, inserted)) for name, arguments in rounds[done]]


# A script cannot know the id a page gives a cell it inserts: ``$LAST_INSERTED`` in a call's
# arguments stands for the id named by the newest tool result ``inserted cell <id> …`` the
# request carries (what notebook_insert_cell answers), as a model would read it from there.
LAST_INSERTED = "$LAST_INSERTED"


def last_inserted(request: dict[str, Any]) -> str:
    for message in reversed(request["messages"]):
        content = message.get("content") if message["role"] == "tool" else None
        found = re.search(r"inserted cell (\S+)", content) if isinstance(content, str) else None
        if found:
            return found.group(1)
    return LAST_INSERTED


def tool_call_chunks(model: str, calls: list[tuple[str, str]]) -> list[bytes]:
    def piece(index: int, call_id: str | None, name: str | None, arguments: str) -> bytes:
        function: dict[str, Any] = {"arguments": arguments}
        if name is not None:
            function["name"] = name
        call: dict[str, Any] = {"index": index, "function": function}
        if call_id is not None:
            call.update(id=call_id, type="function")
        return chunk(tool_calls=[call])

    if model == "gpt-tools-whole":
        return [piece(0, f"call_whole_{i}", name, arguments) for i, (name, arguments) in enumerate(calls)]
    with_ids = model == "gpt-tools"
    chunks = [piece(i, f"call_{i}" if with_ids else None, name, "") for i, (name, _) in enumerate(calls)]
    longest = max((len(arguments) for _, arguments in calls), default=0)
    for start in range(0, longest, 5):  # interleaved: a piece of each call in turn
        for i, (_, arguments) in enumerate(calls):
            if start < len(arguments):
                chunks.append(piece(i, None, None, arguments[start : start + 5]))
    return chunks


def slow_text(count: int, bad: str = "") -> str:
    """What a slow model sends for ``count`` (before any normalisation)."""
    return "Echo: " + bad + "".join(f"w{i} " for i in range(count))


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> bytes:
    delta: dict[str, Any] = {} if content is None else {"content": content}
    delta.update(extra)
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def usage_chunk(request: dict[str, Any], completion: int) -> bytes:
    """The last chunk of a stream asked for usage, as OpenAI sends it: no choices.
    Prompt tokens here: the words of every message (a test can predict them)."""
    prompt = sum(len(m["content"].split()) for m in request["messages"])
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


@dataclass
class Served:
    """One request the fake answered: how far it got (read from any thread)."""

    model: str
    prompt: str
    chunks: int = 0
    finished: bool = False
    hung_up: bool = False


class Completions(web.RequestHandler):
    def initialize(
        self, seen: list[dict[str, Any]], served: list[Served], api_key: str | None, gate: asyncio.Event
    ) -> None:
        self.seen = seen
        self.served = served
        self.api_key = api_key
        self.gate = gate

    def prepare(self) -> None:
        """With a key set, any other key is refused as OpenAI does: 401."""
        if self.api_key is not None and self.request.headers.get("Authorization") != f"Bearer {self.api_key}":
            self.set_status(401)
            self.finish({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})

    async def post(self) -> None:
        try:
            await self.answer()
        except iostream.StreamClosedError:
            self.record.hung_up = True  # the client went away: not the fake's error

    async def answer(self) -> None:
        request = json.loads(self.request.body)
        self.seen.append(request)
        model = request["model"]
        self.record = Served(model, request["messages"][-1]["content"])
        self.served.append(self.record)
        if model == "gpt-500":
            self.set_status(500)
            self.finish({"error": {"message": "upstream exploded", "type": "server_error"}})
            return
        self.set_header("Content-Type", "text/event-stream")
        if model in TOOL_MODELS or model == GATED:
            await self.tool_round(model, request)
            return
        if model in TEXT_FAULTS or model == "gpt-nul-reasoning" or model in SLOW:
            await self.scripted(model, request)
            return
        if model == "gpt-slow-first":
            await asyncio.sleep(0.5)  # well within provider_timeout
        if model == "gpt-reasoning":
            for piece in ["let ", "me ", "think"]:
                await self.send(chunk(reasoning_content=piece))
        words = ["Echo", ": ", *request["messages"][-1]["content"].split(" ")]
        for index, word in enumerate(words):
            await self.send(chunk(word if index < 2 else word + " "))
            if index == 2 and model == "gpt-cut":
                self.request.connection.stream.close()
                return
            if index == 2 and model == "gpt-stall":
                await asyncio.sleep(30)
            if index == 2 and model in MALFORMED:
                await self.send(MALFORMED[model])
        if model != "gpt-unfinished":
            await self.send(chunk(finish="stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            await self.send(usage_chunk(request, len(words)))
        await self.send(b"data: [DONE]\n\n")
        self.record.finished = True
        self.finish()

    async def scripted(self, model: str, request: dict[str, Any]) -> None:
        if model in TEXT_FAULTS:
            for piece in TEXT_FAULTS[model]:
                await self.send(chunk(piece))
        elif model == "gpt-nul-reasoning":
            for piece in REASONING_FAULT:
                await self.send(chunk(reasoning_content=piece))
            await self.send(chunk("Echo: fine"))
        else:
            params = dict(re.findall(r"(\w+)=([\d.]+)", request["messages"][-1]["content"]))
            count, pace = int(params.get("count", 40)), float(params.get("pace", 0.1))
            await self.send(chunk("Echo: "))
            if SLOW[model]:
                await self.send(chunk(SLOW[model]))
            for i in range(count):
                await asyncio.sleep(pace)
                await self.send(chunk(f"w{i} "))
        await self.send(chunk(finish="stop"))
        await self.send(b"data: [DONE]\n\n")
        self.record.finished = True
        self.finish()

    async def tool_round(self, model: str, request: dict[str, Any]) -> None:
        """One round of a scripted agent (see ``tool_script``), streamed as ``model``'s server does."""
        calls = tool_script(request)
        if calls is None:
            results = [m["content"] for m in request["messages"] if m["role"] == "tool"]
            await self.send(chunk("Results: "))
            await self.send(chunk(" | ".join(results)))
            await self.send(chunk(finish="stop"))
        else:
            for piece in tool_call_chunks("gpt-tools" if model == GATED else model, calls):
                await self.send(piece)
            if model == GATED:
                await self.gate.wait()
            await self.send(chunk(finish="tool_calls"))
        await self.send(b"data: [DONE]\n\n")
        self.record.finished = True
        self.finish()

    async def send(self, data: bytes) -> None:
        self.write(data)
        await self.flush()
        self.record.chunks += 1


class FakeOpenAI:
    """Runs on the test's event loop; ``url`` is the base URL for the SDK."""

    def __init__(self, api_key: str | None = None) -> None:
        self.seen: list[dict[str, Any]] = []
        self.served: list[Served] = []
        self.gate = asyncio.Event()  # set: gpt-tools-gated finishes its rounds
        routes = {"seen": self.seen, "served": self.served, "api_key": api_key, "gate": self.gate}
        app = web.Application([(r"/v1/chat/completions", Completions, routes)])
        sock, self.port = testing.bind_unused_port()
        self.server = httpserver.HTTPServer(app)
        self.server.add_sockets([sock])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.server.stop()

    def request(self, prompt: str) -> Served | None:
        """The request whose last user message was ``prompt``, once it arrived."""
        return next((s for s in list(self.served) if s.prompt == prompt), None)


class ThreadedFakeOpenAI:
    """A ``FakeOpenAI`` on an event loop of its own in a daemon thread: it keeps
    streaming whatever the test's thread or a stopped server process does."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key  # set: requests with another key get 401
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.fake: FakeOpenAI | None = None
        self.thread = threading.Thread(target=self._main, name="fake-openai", daemon=True)
        self.thread.start()
        if not self._ready.wait(30) or self.fake is None:
            raise RuntimeError("the fake OpenAI server did not start")
        self.url = self.fake.url
        self.served = self.fake.served
        self.seen = self.fake.seen

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def make() -> None:
            self.fake = FakeOpenAI(self.api_key)

        try:
            self.loop.run_until_complete(make())
        finally:
            self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    def request(self, prompt: str) -> Served | None:
        assert self.fake is not None
        return self.fake.request(prompt)

    def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def shut() -> None:
            assert self.fake is not None
            self.fake.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:  # handlers still streaming or stalled
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.fake.server.close_all_connections(), 5)

        try:
            asyncio.run_coroutine_threadsafe(shut(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
