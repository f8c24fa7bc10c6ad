"""REST handlers of DESIGN §3: parse, call the JobManager, serialise.

Domain errors become ``{"error", "detail"}`` with their status in one place
(``write_error``); only the truly unexpected is a 500, logged once.
"""

from __future__ import annotations

import functools
import json
import re
from importlib.resources import files
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .errors import InvalidRequest, NotFound, ResumeChatError, TooLarge, Unavailable, code_for_status
from .jobs import JobManager
from .models import CONTEXT_KINDS, Context, Models, StreamStatus, parse_time
from .parts import Parts
from .refusals import DRAIN_FACTOR, answer_after_body

__all__ = [
    "ConversationHandler",
    "ConversationsHandler",
    "HealthHandler",
    "MessagesHandler",
    "ModelsHandler",
    "OpenAPIHandler",
    "ResumeChatHandler",
    "StreamAbortHandler",
    "StreamStatusHandler",
]

AUTH_RESOURCE = "resumechat"
MAX_ID_CHARS = 64
MAX_TITLE_CHARS = 1000
MAX_KEY_CHARS = 1024
MAX_CONTEXT_ITEMS = 20
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


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
        if not _ID.fullmatch(value):
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
        _check_text(data)
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


def _check_text(value: Any, depth: int = 0) -> None:
    """Every string must be storable text: no lone surrogates, no U+0000 (§3)."""
    if depth > 32:
        raise InvalidRequest("the body's JSON is nested too deeply")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest("text must not contain U+0000")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest("text must not contain lone UTF-16 surrogates") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, depth + 1)
            _check_text(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, depth + 1)


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"'{name}' is required")
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string")
    if len(value) > limit:
        raise (TooLarge if name == "content" else InvalidRequest)(
            f"'{name}' has {len(value)} characters; the limit is {limit}"
        )
    return value


def _again(body: dict[str, Any]) -> tuple[bool, str] | None:
    """``regenerate`` or ``continue`` (a message id; either, never with ``content``):
    (keep the reply's text, the id), or None for an ordinary send."""
    asked = [name for name in ("regenerate", "continue") if body.get(name) is not None]
    if not asked:
        return None
    if len(asked) > 1 or "content" in body or "context" in body:
        raise InvalidRequest("send 'content', 'regenerate' or 'continue', only one of them")
    message_id = _text(body, asked[0], 64) or ""
    return asked[0] == "continue", message_id


def _context(body: dict[str, Any], limit: int) -> list[Context]:
    """``context``: up to MAX_CONTEXT_ITEMS ``{kind, name, content}`` objects."""
    items = body.get("context")
    if items is None:
        return []
    if not isinstance(items, list) or len(items) > MAX_CONTEXT_ITEMS:
        raise InvalidRequest(f"'context' must be a list of at most {MAX_CONTEXT_ITEMS} objects")
    found = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in CONTEXT_KINDS:
            raise InvalidRequest(f"each context item needs a 'kind' among {', '.join(CONTEXT_KINDS)}")
        name = _text(item, "name", MAX_TITLE_CHARS, required=True) or ""
        found.append(Context(item["kind"], name, _text(item, "content", limit, required=True) or ""))
    return found


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
        title = _text(body, "title", MAX_TITLE_CHARS) or ""
        key = _text(body, "key", MAX_KEY_CHARS)
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
        title = _text(body, "title", MAX_TITLE_CHARS, required=True)
        found = await self.manager.rename_conversation(self.user, self.valid_id(cid), title or "")
        self.send_json(found.to_json())

    @web.authenticated
    @authorized
    async def delete(self, cid: str) -> None:
        await self.manager.delete_conversation(self.user, self.valid_id(cid))
        self.set_status(204)
        self.finish()


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
        model = _text(body, "model", 255)
        client_id = _text(body, "client_id", 255)
        again = _again(body)
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
            content = _text(body, "content", limit, required=True) or ""
            context = _context(body, limit)
            sent = await self.manager.send(self.user, self.valid_id(cid), content, model, client_id, context)
        self.send_json(sent.to_json(), 202)


class StreamStatusHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def get(self, cid: str) -> None:
        if not _ID.fullmatch(cid):
            self.send_json(StreamStatus(active=False).to_json())  # always 200 (§3)
            return
        status = await self.manager.status(self.user, cid)
        self.send_json(status.to_json())


class StreamAbortHandler(ResumeChatHandler):
    @web.authenticated
    @authorized
    async def post(self, sid: str) -> None:
        message = await self.manager.abort(self.user, self.valid_id(sid))
        self.send_json(message.to_json())


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
