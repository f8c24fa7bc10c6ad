"""The conversations a user sees, for the JobManager: their own (isolated
users) or all, each with its live text while a reply streams.

Part of ``JobManager`` (``manager.py``); no HTTP and no SQL here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from datetime import datetime

from ..errors import NotFound, Unavailable
from ..models import Conversation, Message, MessageStatus
from ..store import MessageStore
from ..streams import StreamStore
from .job import JobSettings

__all__ = ["ConversationAccess"]

log = logging.getLogger("jupyter_resumechat.jobs")


class ConversationAccess:
    """Conversations and their messages as ``user`` may see them."""

    streams: StreamStore
    messages: MessageStore
    settings: JobSettings
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock]

    def _owner(self, user: str) -> str | None:
        """Whose conversations ``user`` sees: their own, or all (``None``)."""
        return user if self.settings.isolate_users else None

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    async def create_conversation(self, user: str, title: str, key: str | None) -> tuple[Conversation, bool]:
        """Get-or-create by ``key``, within the user's own space when isolated."""
        return await self.messages.create_conversation(self._owner(user) or "", title, key)

    async def list_conversations(self, user: str, limit: int, before: datetime | None) -> list[Conversation]:
        return await self.messages.list_conversations(self._owner(user), limit, before)

    async def get_conversation(self, user: str, conversation_id: str) -> Conversation:
        return await self.messages.get_conversation(self._owner(user), conversation_id)

    async def rename_conversation(self, user: str, conversation_id: str, title: str) -> Conversation:
        return await self.messages.rename_conversation(self._owner(user), conversation_id, title)

    async def list_messages(self, user: str, conversation_id: str) -> list[Message]:
        """Oldest first; a streaming message carries its live content.  With the
        StreamStore down, the database's copy (history stays readable, docs/protocol.md#named-failures)."""
        found = await self.messages.list_messages(self._owner(user), conversation_id)
        if not any(m.status is MessageStatus.STREAMING for m in found):
            return found
        try:
            live = await self.streams.active(conversation_id)
            if live is None:
                return found
            for index, message in enumerate(found):
                if message.id == live.message_id and message.status is MessageStatus.STREAMING:
                    found[index] = await self._live(live.stream_id, message)
        except Unavailable as exc:
            log.warning("resumechat: live text unavailable, answering from the database: %s", exc.detail)
        return found

    async def _live(self, stream_id: str, message: Message) -> Message:
        with contextlib.suppress(NotFound):
            batch = await self.streams.read_after(stream_id, None, 0)
            if batch.events and "content" in batch.events[0].data:
                data = batch.events[0].data
                if len(data["content"]) < len(message.content):
                    return message  # a continued reply whose stream has not got its earlier text yet
                live = message.replace(content=data["content"], reasoning=data["reasoning"])
                if message.parts:  # a run: its parts as the stream has them (they join to its text)
                    live = live.replace(parts=data.get("parts") or message.parts)
                return live
        return message
