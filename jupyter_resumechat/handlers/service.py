"""What the chat offers beside conversations: ``models``, ``health`` and the
static ``openapi.json``."""

from __future__ import annotations

import functools
from importlib.resources import files

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..models import Models
from .base import ResumeChatHandler

__all__ = ["HealthHandler", "ModelsHandler", "OpenAPIHandler"]


class ModelsHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.send_json(Models(self.manager.provider.default_model, self.manager.models()).to_json())


class HealthHandler(ResumeChatHandler):
    """``GET health``: 200 when both stores answer, else 503 with the same body
    naming what is wrong (misconfiguration, the database, Redis)."""

    needs_manager = False

    @web.authenticated
    @authorized
    async def get(self) -> None:
        report = await self.parts.health()
        if not report.ok:
            self._unavailable = self.parts.redact(report.detail)
        self.send_json(self.parts.redact.json(report.to_json()), 200 if report.ok else 503)


class OpenAPIHandler(ResumeChatHandler):
    """The shipped OpenAPI document, for tools (fuzzers, client generators):
    static, so it is served even when the chat cannot start."""

    needs_manager = False

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(_openapi_document())


@functools.lru_cache(maxsize=1)
def _openapi_document() -> str:
    """Read once: no file I/O on the event loop per request."""
    return files("jupyter_resumechat").joinpath("openapi.json").read_text(encoding="utf-8")
