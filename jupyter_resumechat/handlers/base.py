"""The base of every handler: the parts passed in through the route, the body,
the user, and the one place where errors become HTTP.

Domain errors become ``{"error", "detail"}`` with their status here
(``write_error``); only the truly unexpected is a 500, logged once.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import InvalidRequest, NotFound, ResumeChatError, TooLarge, Unavailable, code_for_status
from ..jobs import JobManager
from ..parts import Parts
from ..refusals import DRAIN_FACTOR, answer_after_body
from .fields import ID, check_text

__all__ = ["AUTH_RESOURCE", "ResumeChatHandler"]

AUTH_RESOURCE = "resumechat"


@web.stream_request_body
class ResumeChatHandler(APIHandler):
    """Base: the parts passed in through the route, JSON in and out.

    The body is streamed in, so a body over the limit is refused from its
    ``Content-Length`` before it is read (413), or as soon as it grows past
    the limit when it comes in chunks.  Every request first needs the started
    manager: a misconfigured extension or an unreachable database is a 503
    naming the trait and the fix (``Parts.start``).
    """

    auth_resource = AUTH_RESOURCE
    needs_manager = True
    _chunks: list[bytes]
    _received = 0
    _manager: JobManager | None = None
    _refusal: Unavailable | None = None
    _unavailable = ""  # the detail of a 503 answered, for the access log

    def initialize(
        self,
        parts: Parts,
        heartbeat_interval: float = 15.0,
        max_body_bytes: int = 1 << 20,
        write_timeout: float = 30.0,
    ) -> None:
        self.parts = parts
        self.heartbeat_interval = heartbeat_interval
        self.write_timeout = write_timeout
        self.max_body_bytes = max_body_bytes

    async def prepare(self) -> None:  # type: ignore[override]
        self._chunks = []
        declared = self.request.headers.get("Content-Length", "0")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            too_large = TooLarge(f"the body has {declared} bytes; the limit is {self.max_body_bytes}")
            if int(declared) > DRAIN_FACTOR * self.max_body_bytes:
                raise too_large  # not worth reading: answered now, the connection closes
            return answer_after_body(self, too_large)  # keeps a keep-alive connection
        try:
            await super().prepare()
        except web.HTTPError as exc:  # 403 (XSRF, host), 404 (origin): after the body too
            if exc.status_code >= 500:
                raise
            return answer_after_body(self, exc)
        if self.needs_manager:
            try:
                self._manager = await self.parts.start()
            except Unavailable as exc:
                # answered by the method, once the body is in: an error raised here
                # closes the connection under the client, who then sees a reset
                self._refusal = exc

    @property
    def manager(self) -> JobManager:
        """The started manager, or the 503 ``prepare`` kept for the method to raise."""
        if self._manager is None:
            raise self._refusal or Unavailable(self.parts.problem or "the chat has not started")
        return self._manager

    def data_received(self, chunk: bytes) -> None:
        """Keep the body up to the limit; past it, drop the rest (``body`` says 413)."""
        self._received += len(chunk)
        if self._received <= self.max_body_bytes:
            self._chunks.append(chunk)
        else:
            self._chunks.clear()

    @property
    def user(self) -> str:
        """The authenticated user's name: the owner of what they create."""
        user = self.current_user
        return str(getattr(user, "username", user) or "")

    def valid_id(self, value: str) -> str:
        """An id from the URL; anything that cannot be one is simply unknown."""
        if not ID.fullmatch(value):
            raise NotFound("unknown id")
        return value

    def body(self) -> dict[str, Any]:
        """The JSON object sent, or InvalidRequest / TooLarge."""
        if self._received > self.max_body_bytes:
            raise TooLarge(f"the body has {self._received} bytes; the limit is {self.max_body_bytes}")
        raw = b"".join(self._chunks)
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
        except RecursionError:
            raise InvalidRequest("the body's JSON is nested too deeply") from None
        if not isinstance(data, dict):
            raise InvalidRequest("the body must be a JSON object")
        check_text(data)
        return data

    def send_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ResumeChatError):
            self.set_status(exc.status)
            body: dict[str, Any] = exc.to_json()
            self._unavailable = self.parts.redact(exc.detail) if isinstance(exc, Unavailable) else ""
        elif isinstance(exc, web.HTTPError):
            body = {"error": code_for_status(status_code), "detail": exc.log_message or self._reason}
        else:
            body = {"error": code_for_status(status_code), "detail": self._reason}
        body["detail"] = self.parts.redact(str(body["detail"]))
        self.clear_header("Content-Type")
        self.finish(json.dumps(body), set_content_type="application/json")

    def _log(self) -> None:
        """A 503 ``unavailable`` is a named state whose cause was logged once: one
        WARNING line per request, not the server's ERROR with the request's headers."""
        if self.get_status() == 503 and self._unavailable:
            method, path = self.request.method, self.request.path
            self.log.warning("resumechat: 503 %s %s: %s", method, path, self._unavailable)
            return
        super()._log()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, ResumeChatError):
            self.log.debug("resumechat: %s %s -> %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)
