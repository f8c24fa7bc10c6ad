"""``conversations`` and ``conversations/{cid}``: list, create (get-or-create
by key), get, rename, delete."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import InvalidRequest
from ..models import parse_time
from .base import ResumeChatHandler
from .fields import MAX_KEY_CHARS, MAX_TITLE_CHARS, text_field

__all__ = ["ConversationHandler", "ConversationsHandler"]


class ConversationsHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit_text = self.get_query_argument("limit", "50")
        if not (limit_text.isascii() and limit_text.isdigit()) or not 1 <= int(limit_text) <= 500:
            raise InvalidRequest("'limit' must be an integer from 1 to 500")
        before_text = self.get_query_argument("before", None)
        try:
            before = parse_time(before_text) if before_text else None
        except ValueError:
            raise InvalidRequest("'before' must be an ISO 8601 time") from None
        found = await self.manager.list_conversations(self.user, int(limit_text), before)
        self.send_json({"conversations": [c.to_json() for c in found]})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        title = text_field(body, "title", MAX_TITLE_CHARS) or ""
        key = text_field(body, "key", MAX_KEY_CHARS)
        conversation, created = await self.manager.create_conversation(self.user, title, key)
        self.send_json(conversation.to_json(), 201 if created else 200)


class ConversationHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self, cid: str) -> None:
        found = await self.manager.get_conversation(self.user, self.valid_id(cid))
        self.send_json(found.to_json())

    @web.authenticated
    @authorized
    async def patch(self, cid: str) -> None:
        body = self.body()
        title = text_field(body, "title", MAX_TITLE_CHARS, required=True)
        found = await self.manager.rename_conversation(self.user, self.valid_id(cid), title or "")
        self.send_json(found.to_json())

    @web.authenticated
    @authorized
    async def delete(self, cid: str) -> None:
        await self.manager.delete_conversation(self.user, self.valid_id(cid))
        self.set_status(204)
        self.finish()
