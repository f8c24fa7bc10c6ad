"""What runs may call, and the steps a person or a page takes in a run:
``tools``, ``streams/{sid}/tools/{call_id}/decision|claim|result`` (docs/protocol.md#api).

A call is found by its id in the database, whatever server or stream it was
seen on: the ``sid`` in the path is only checked for shape (docs/protocol.md#agent-runs).
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .base import ResumeChatHandler
from .fields import decision_field, text_field

__all__ = ["ToolCallHandler", "ToolsHandler"]

MAX_RESULT_CHARS = (
    1_000_000  # a page's result larger than this is refused (413 comes from the body cap first)
)


class ToolsHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        conversation = self.get_query_argument("conversation", None)
        cid = self.valid_id(conversation) if conversation is not None else None
        self.send_json({"tools": await self.manager.list_tools(self.user, cid)})


class ToolCallHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def post(self, sid: str, call_id: str, step: str) -> None:
        self.valid_id(sid)
        call_id = self.valid_id(call_id)
        body = self.body()
        if step == "decision":
            approve, note = decision_field(body)
            call = await self.manager.decide(self.user, call_id, approve, note)
            self.send_json(call.to_json())
        elif step == "claim":
            client_id = text_field(body, "client_id", 255, required=True) or ""
            lease = await self.manager.claim(self.user, call_id, client_id)
            self.send_json({"lease_seconds": lease})
        else:
            client_id = text_field(body, "client_id", 255, required=True) or ""
            content = text_field(body, "content", MAX_RESULT_CHARS)
            error = text_field(body, "error", MAX_RESULT_CHARS)
            call = await self.manager.submit_result(self.user, call_id, client_id, content, error)
            self.send_json(call.to_json())
