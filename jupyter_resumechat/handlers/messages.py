"""``conversations/{cid}/messages``: the messages, and a send, regenerate or
continue (docs/protocol.md#api)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import ResumeChatHandler
from .fields import again_field, context_field, text_field, tools_field

__all__ = ["MessagesHandler"]


class MessagesHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self, cid: str) -> None:
        found = await self.manager.list_messages(self.user, self.valid_id(cid))
        self.send_json({"messages": [m.to_json() for m in found]})

    @web.authenticated
    @authorized
    async def post(self, cid: str) -> None:
        body = self.body()
        model = text_field(body, "model", 255)
        client_id = text_field(body, "client_id", 255)
        again = again_field(body)
        if again is not None:
            keep_text, message_id = again
            sent = await self.manager.regenerate(
                self.user,
                self.valid_id(cid),
                self.valid_id(message_id),
                model,
                client_id,
                keep_text=keep_text,
            )
        else:
            limit = self.manager.settings.max_message_chars
            content = text_field(body, "content", limit, required=True) or ""
            context = context_field(body, limit)
            tools = tools_field(body)
            sent = await self.manager.send(
                self.user, self.valid_id(cid), content, model, client_id, context, tools
            )
        self.send_json(sent.to_json(), 202)
