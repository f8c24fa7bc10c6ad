"""A blocking facade over ``Client`` that works inside a running kernel.

A Jupyter kernel already runs an event loop in its main thread, so
``asyncio.run`` fails there and waiting on that loop would deadlock. The
facade runs its own loop in a daemon thread and blocks the caller on a
``concurrent.futures.Future`` instead: the kernel's loop is never touched.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from ..eventstream import StreamEvent
from ..models import Conversation, Message, StreamStatus, ToolCall
from .api import Client, Models, SendResult
from .discovery import ServerInfo, discover

__all__ = ["SyncClient"]

T = TypeVar("T")


class _LoopThread:
    """An event loop of our own, in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="resumechat-client", daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        if threading.current_thread() is self.thread:
            raise RuntimeError("SyncClient cannot be called from its own loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class SyncClient:
    """The same methods as ``Client``, blocking; safe in notebooks and scripts."""

    def __init__(self, url: str, token: str = "", **options: Any) -> None:
        self._runner = _LoopThread()
        self._client: Client = self._runner.run(_make(url, token, options))

    @classmethod
    def from_info(cls, info: ServerInfo, **options: Any) -> SyncClient:
        return cls(info.url, info.token, **options)

    @classmethod
    def discover(cls, **options: Any) -> SyncClient:
        return cls.from_info(discover(), **options)

    from_kernel = discover

    @property
    def url(self) -> str:
        return self._client.url

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.stop()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, method: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        return self._runner.run(method(*args, **kwargs))

    def create_conversation(self, title: str | None = None, key: str | None = None) -> Conversation:
        return self._call(self._client.create_conversation, title, key)

    def list_conversations(self, limit: int = 50, before: Any = None) -> list[Conversation]:
        return self._call(self._client.list_conversations, limit, before)

    def get_conversation(self, conversation_id: str) -> Conversation:
        return self._call(self._client.get_conversation, conversation_id)

    def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        return self._call(self._client.rename_conversation, conversation_id, title)

    def delete_conversation(self, conversation_id: str) -> None:
        self._call(self._client.delete_conversation, conversation_id)

    def messages(self, conversation_id: str) -> list[Message]:
        return self._call(self._client.messages, conversation_id)

    def saved_notebook(self, path: str) -> dict[str, Any]:
        return self._call(self._client.saved_notebook, path)

    def send(self, conversation_id: str, content: str, **options: Any) -> SendResult:
        return self._call(self._client.send, conversation_id, content, **options)

    def regenerate(self, conversation_id: str, message_id: str, **options: Any) -> SendResult:
        return self._call(self._client.regenerate, conversation_id, message_id, **options)

    def continue_reply(self, conversation_id: str, message_id: str, **options: Any) -> SendResult:
        return self._call(self._client.continue_reply, conversation_id, message_id, **options)

    def stream_status(self, conversation_id: str) -> StreamStatus:
        return self._call(self._client.stream_status, conversation_id)

    def abort(self, stream_id: str) -> Message:
        return self._call(self._client.abort, stream_id)

    def models(self) -> Models:
        return self._call(self._client.models)

    def wait(self, stream_id: str, **where: Any) -> Message:
        return self._call(self._client.wait, stream_id, **where)

    def ask(self, conversation_id: str, content: str, **options: Any) -> Message:
        return self._call(self._client.ask, conversation_id, content, **options)

    def tools(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        return self._call(self._client.tools, conversation_id)

    def pending(self, conversation_id: str) -> list[tuple[str, ToolCall]]:
        return self._call(self._client.pending, conversation_id)

    def decide(self, stream_id: str, call_id: str, decision: str, note: str | None = None) -> ToolCall:
        return self._call(self._client.decide, stream_id, call_id, decision, note)

    def approve(self, stream_id: str, call_id: str, *, always: bool = False) -> ToolCall:
        return self._call(self._client.approve, stream_id, call_id, always=always)

    def deny(self, stream_id: str, call_id: str, note: str | None = None) -> ToolCall:
        return self._call(self._client.deny, stream_id, call_id, note)

    def claim(self, stream_id: str, call_id: str, client_id: str) -> float:
        return self._call(self._client.claim, stream_id, call_id, client_id)

    def result(self, stream_id: str, call_id: str, client_id: str, **outcome: Any) -> ToolCall:
        return self._call(self._client.result, stream_id, call_id, client_id, **outcome)

    def stream(self, stream_id: str, **where: Any) -> Iterator[StreamEvent]:
        """Events one at a time, from the background loop."""
        events = self._client.stream(stream_id, **where)
        try:
            while True:
                try:
                    yield self._runner.run(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(events.aclose())  # type: ignore[attr-defined]


async def _make(url: str, token: str, options: dict[str, Any]) -> Client:
    """Create the httpx client inside the loop that will use it."""
    return Client(url, token, **options)
