"""The async Client: every endpoint of docs/protocol.md#endpoints, and streams that never give up.

``stream()`` is the never-lose-a-word guarantee for code: it resumes after
network errors from the last event id (bounded exponential backoff with
jitter), drops duplicate ids, and when the stream has expired (404) it
reloads the conversation's messages and ends with the committed message.
A little over 300 lines: one method per endpoint; the tool-call endpoints
live in ``tools.py`` (a mixin), not here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import SSEError, aconnect_sse

from ..errors import ConnectionFailed, NotFound, ServerError, error_from_answer
from ..eventstream import HEARTBEAT_HEADER, SILENCE_FACTOR, StreamEvent, decode_event
from ..models import (
    Context,
    Conversation,
    EventKind,
    Message,
    ModelInfo,
    Models,
    Role,
    SendResult,
    StreamStatus,
    format_time,
)
from .discovery import ServerInfo, discover
from .tools import ToolSteps

__all__ = ["Client", "ModelInfo", "Models", "SendResult"]


def raise_for_error(response: httpx.Response) -> None:
    """Raise the exception of an error answer's status, with the server's detail."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        if not isinstance(body, dict):
            body = {}
    except ValueError:
        body = {"detail": response.text[:500]}
    raise error_from_answer(response.status_code, body, response.reason_phrase)


class Client(ToolSteps):
    """Async client of one Jupyter server's ResumeChat API.

    Use ``Client(url, token)``, ``Client.discover()`` or, in a kernel,
    ``Client.from_kernel()``; close it with ``aclose()`` or ``async with``.
    """

    def __init__(
        self,
        url: str,
        token: str = "",
        *,
        timeout: float = 30.0,
        max_retries: int = 8,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        heartbeat_interval: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.api = self.url + "resumechat/api/"
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        # until a server says otherwise (its event stream's header), its default
        self.heartbeat_interval = heartbeat_interval
        headers = {"Authorization": f"token {token}"} if token else {}
        self._http = httpx.AsyncClient(
            headers=headers, transport=transport, timeout=httpx.Timeout(timeout, read=None)
        )

    @classmethod
    def from_info(cls, info: ServerInfo, **options: Any) -> Client:
        return cls(info.url, info.token, **options)

    @classmethod
    def discover(cls, **options: Any) -> Client:
        """The server this process belongs to (see ``client.discovery``)."""
        return cls.from_info(discover(), **options)

    from_kernel = discover

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(method, self.api + path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"{method} {path}: {exc!r}") from exc
        raise_for_error(response)
        return response.json() if response.content else None

    # conversations

    async def create_conversation(self, title: str | None = None, key: str | None = None) -> Conversation:
        """A new conversation, or the existing one with ``key``."""
        body = {k: v for k, v in {"title": title, "key": key}.items() if v is not None}
        return Conversation.from_json(await self._call("POST", "conversations", json=body))

    async def list_conversations(self, limit: int = 50, before: datetime | None = None) -> list[Conversation]:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = format_time(before)
        data = await self._call("GET", "conversations", params=params)
        return [Conversation.from_json(c) for c in data["conversations"]]

    async def get_conversation(self, conversation_id: str) -> Conversation:
        return Conversation.from_json(await self._call("GET", f"conversations/{conversation_id}"))

    async def rename_conversation(self, conversation_id: str, title: str) -> Conversation:
        data = await self._call("PATCH", f"conversations/{conversation_id}", json={"title": title})
        return Conversation.from_json(data)

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._call("DELETE", f"conversations/{conversation_id}")

    async def messages(self, conversation_id: str) -> list[Message]:
        data = await self._call("GET", f"conversations/{conversation_id}/messages")
        return [Message.from_json(m) for m in data["messages"]]

    async def saved_notebook(self, path: str) -> dict[str, Any]:
        """The notebook saved at ``path`` (relative to the server's root), through
        Jupyter's contents API; raises ``NotFound`` when there is none."""
        try:
            response = await self._http.get(
                self.url + "api/contents/" + quote(path), params={"type": "notebook", "content": "1"}
            )
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"GET contents {path}: {exc!r}") from exc
        raise_for_error(response)
        content = response.json().get("content")
        return content if isinstance(content, dict) else {}

    # generations

    async def send(
        self,
        conversation_id: str,
        content: str,
        *,
        model: str | None = None,
        client_id: str | None = None,
        context: Sequence[Context] = (),
        tools: str | Sequence[str] | None = None,
    ) -> SendResult:
        """Send a user message; the reply streams from ``result.stream_id``.

        Pass a ``client_id`` to make retries safe: the same id never starts a
        second generation.  ``context`` is stored on the message and shown to
        the model before its text.  ``tools`` (``"all"`` or names from
        ``tools()``) lets the reply call tools (docs/protocol.md#agent-runs).
        """
        body: dict[str, Any] = {
            k: v
            for k, v in {"content": content, "model": model, "client_id": client_id}.items()
            if v is not None
        }
        if context:
            body["context"] = [item.to_json() for item in context]
        if tools is not None:
            body["tools"] = tools if isinstance(tools, str) else list(tools)
        data = await self._call("POST", f"conversations/{conversation_id}/messages", json=body)
        return SendResult.from_json(data)

    async def regenerate(
        self, conversation_id: str, message_id: str, *, model: str | None = None, client_id: str | None = None
    ) -> SendResult:
        """Generate the conversation's latest reply again, replacing it (no new user turn)."""
        return await self._again("regenerate", conversation_id, message_id, model, client_id)

    async def continue_reply(
        self, conversation_id: str, message_id: str, *, model: str | None = None, client_id: str | None = None
    ) -> SendResult:
        """Extend the latest reply (interrupted, stopped, failed or cut) in place."""
        return await self._again("continue", conversation_id, message_id, model, client_id)

    async def _again(
        self, how: str, conversation_id: str, message_id: str, model: str | None, client_id: str | None
    ) -> SendResult:
        body = {k: v for k, v in {how: message_id, "model": model, "client_id": client_id}.items() if v}
        data = await self._call("POST", f"conversations/{conversation_id}/messages", json=body)
        return SendResult.from_json(data)

    async def stream_status(self, conversation_id: str) -> StreamStatus:
        return StreamStatus.from_json(await self._call("GET", f"conversations/{conversation_id}/stream"))

    async def abort(self, stream_id: str) -> Message:
        return Message.from_json(await self._call("POST", f"streams/{stream_id}/abort"))

    async def models(self) -> Models:
        return Models.from_json(await self._call("GET", "models"))

    async def stream(
        self,
        stream_id: str,
        *,
        last_event_id: int | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """Events of a stream until its final, resuming as often as needed.

        Pass the conversation (and message) id so that an expired stream can
        end with the committed message, and a run that went on under a new
        stream id (continued after a wait, on another server) is followed
        there; without them a 404 raises NotFound.  Raises ConnectionFailed
        when ``max_retries`` reconnects in a row fail.
        """
        last, failures = last_event_id, 0
        while True:
            try:
                async for event in self._events_once(stream_id, last):
                    failures = 0
                    duplicate = event.kind in (EventKind.DELTA, EventKind.TOOL)
                    if duplicate and last is not None and event.id <= last:
                        continue  # a duplicate after a reconnect
                    last = event.id
                    yield event
                    if event.kind is EventKind.FINAL:
                        return
            except NotFound:
                if conversation_id is None:
                    raise
                moved = await self.stream_status(conversation_id)
                if (
                    moved.active
                    and moved.stream_id not in (None, stream_id)
                    and message_id in (None, moved.message_id)
                ):
                    stream_id, last, failures = moved.stream_id or "", None, 0  # a snapshot there
                    continue
                yield await self._reloaded(conversation_id, message_id, last)
                return
            except ServerError as exc:
                if exc.status < 500:
                    raise
                problem: BaseException | None = exc  # a restarting server or its proxy
            except (httpx.TransportError, SSEError, ValueError, KeyError) as exc:
                problem = exc
            else:
                problem = None  # the response ended without a final
            failures += 1
            if failures > self.max_retries:
                raise ConnectionFailed(
                    f"stream {stream_id}: gave up after {failures} attempts: {problem!r}"
                ) from problem
            await asyncio.sleep(self._delay(failures))

    def _delay(self, failures: int) -> float:
        """Exponential backoff with full jitter, bounded by ``max_backoff``."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** max(0, failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    async def _events_once(self, stream_id: str, last: int | None) -> AsyncIterator[StreamEvent]:
        """One connection.  Silence for ``SILENCE_FACTOR`` heartbeats is a read
        timeout (a dead server behind a proxy that never closes, docs/protocol.md#silence)."""
        headers = {"Last-Event-ID": str(last)} if last is not None else {}
        silence = httpx.Timeout(self._http.timeout.connect, read=SILENCE_FACTOR * self.heartbeat_interval)
        async with aconnect_sse(
            self._http, "GET", self.api + f"streams/{stream_id}/events", headers=headers, timeout=silence
        ) as source:
            if source.response.status_code != 200:
                await source.response.aread()
                raise_for_error(source.response)
            self._learn_heartbeat(source.response)
            async for sse in source.aiter_sse():
                if sse.data:
                    yield decode_event(sse.event, sse.data, sse.id)

    def _learn_heartbeat(self, response: httpx.Response) -> None:
        """Take the server's heartbeat interval, for this body's reads and the next
        connections (the transport reads its read timeout when the body starts)."""
        try:
            interval = float(response.headers.get(HEARTBEAT_HEADER, ""))
        except ValueError:
            return
        if 0.1 <= interval < 86_400:
            self.heartbeat_interval = interval
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = SILENCE_FACTOR * interval

    async def _reloaded(self, conversation_id: str, message_id: str | None, last: int | None) -> StreamEvent:
        messages = await self.messages(conversation_id)
        replies = [m for m in messages if m.role is Role.ASSISTANT]
        chosen = next((m for m in replies if m.id == message_id), None) if message_id else None
        if chosen is None:
            if message_id is not None or not replies:
                raise NotFound("the stream expired and its message is gone")
            chosen = replies[-1]
        return StreamEvent(
            (last or 0) + 1,
            EventKind.FINAL,
            content=chosen.content,
            reasoning=chosen.reasoning,
            status=chosen.status.value,
            message=chosen,
            reloaded=True,
        )

    async def wait(self, stream_id: str, **where: Any) -> Message:
        """Read the stream to its end and return the committed message."""
        async for event in self.stream(stream_id, **where):
            if event.kind is EventKind.FINAL and event.message is not None:
                return event.message
        raise ConnectionFailed(f"stream {stream_id} ended without a final")  # pragma: no cover

    async def ask(self, conversation_id: str, content: str, **options: Any) -> Message:
        """Send and wait: the committed reply."""
        sent = await self.send(conversation_id, content, **options)
        return await self.wait(
            sent.stream_id, conversation_id=conversation_id, message_id=sent.assistant_message.id
        )
