"""A conversation's stream and its abort: ``conversations/{cid}/stream`` and
``streams/{sid}/abort`` (the events themselves: ``events.py``)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..models import StreamStatus
from .base import ResumeChatHandler
from .fields import ID

__all__ = ["StreamAbortHandler", "StreamStatusHandler"]


class StreamStatusHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self, cid: str) -> None:
        if not ID.fullmatch(cid):
            self.send_json(StreamStatus(active=False).to_json())  # always 200 (docs/protocol.md#api)
            return
        status = await self.manager.status(self.user, cid)
        self.send_json(status.to_json())


class StreamAbortHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def post(self, sid: str) -> None:
        message = await self.manager.abort(self.user, self.valid_id(sid))
        self.send_json(message.to_json())
