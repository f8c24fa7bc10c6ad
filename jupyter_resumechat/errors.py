"""Domain errors of jupyter-resumechat.

The core raises these and never an HTTP error; the handlers map each one to a
status code and a JSON body ``{"error": code, "detail": text}`` in one place::

    ResumeChatError                 (code, detail)
    ├── InvalidRequest              400  bad JSON, wrong fields or types
    ├── NotFound                    404  unknown, expired or not yours
    ├── GenerationActive            409  one generation per conversation (carries stream_id)
    ├── TooLarge                    413  message or body over the limit
    ├── TooManyGenerations          429  per-user cap on active generations
    ├── Unavailable                 503  a dependency (database, Redis) is down, or the
    │                                    extension is misconfigured; the detail names it
    ├── LeaseLost                   (core only) this server's job was adopted by another
    ├── ServerError                 any other error status, as the client sees it
    ├── ConnectionFailed            the client could not reach the server, retries exhausted
    ├── DiscoveryError              no Jupyter server found for the client
    └── ProviderError               a model endpoint failed; ends a stream with status "error"
        └── ProviderTimeout         the endpoint stalled past the configured timeout
"""

from __future__ import annotations

__all__ = [
    "CallConflict",
    "ConnectionFailed",
    "DiscoveryError",
    "GenerationActive",
    "InvalidRequest",
    "LeaseLost",
    "NotFound",
    "ProviderError",
    "ProviderTimeout",
    "ResumeChatError",
    "ServerError",
    "TooLarge",
    "TooManyGenerations",
    "Unavailable",
    "code_for_status",
    "error_from_answer",
]


class ResumeChatError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_json(self) -> dict[str, object]:
        """The wire form: ``{"error": code, "detail": text}``."""
        return {"error": self.code, "detail": self.detail}

    @classmethod
    def from_json(cls, body: dict[str, object]) -> ResumeChatError:
        """The error a client reads back from the wire form."""
        return cls(str(body.get("detail", "")))


class InvalidRequest(ResumeChatError):
    """The request's JSON or fields are malformed."""

    code = "invalid_request"
    status = 400


class NotFound(ResumeChatError):
    """The conversation, message or stream is unknown, expired or not the caller's."""

    code = "not_found"
    status = 404


class GenerationActive(ResumeChatError):
    """The conversation already has an active generation."""

    code = "generation_active"
    status = 409

    def __init__(self, detail: str, stream_id: str) -> None:
        super().__init__(detail)
        self.stream_id = stream_id

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "stream_id": self.stream_id}

    @classmethod
    def from_json(cls, body: dict[str, object]) -> GenerationActive:
        return cls(str(body.get("detail", "")), str(body.get("stream_id", "")))


class CallConflict(ResumeChatError):
    """A tool call cannot take this request: another decision, another claimant, or it ended.

    Answered 409 with the call as it stands, so the client can show the truth."""

    status = 409

    def __init__(self, detail: str, code: str = "conflict", call: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.call = call

    def to_json(self) -> dict[str, object]:
        body = super().to_json()
        if self.call is not None:
            body["call"] = self.call
        return body


class TooLarge(ResumeChatError):
    """A message or request body is over the configured limit."""

    code = "too_large"
    status = 413


class TooManyGenerations(ResumeChatError):
    """The user already runs as many generations as allowed."""

    code = "too_many_generations"
    status = 429


class Unavailable(ResumeChatError):
    """A dependency is down or the extension cannot start; ``detail`` names which."""

    code = "unavailable"
    status = 503


class LeaseLost(ResumeChatError):
    """This server no longer owns the job: another adopted it. Write nothing more."""

    code = "lease_lost"
    status = 409


class ServerError(ResumeChatError):
    """An error answer without a class of its own (403, 5xx…), as a client sees it."""

    def __init__(self, detail: str, status: int, code: str = "error") -> None:
        super().__init__(detail)
        self.status = status
        self.code = code


class ConnectionFailed(ResumeChatError):
    """The server could not be reached, after the client's bounded retries."""

    code = "connection_failed"


class DiscoveryError(ResumeChatError):
    """No Jupyter server could be found; the message says what to set."""

    code = "discovery_failed"


class ProviderError(ResumeChatError):
    """The model endpoint failed; ``type`` names the kind of failure."""

    code = "provider_error"
    status = 502

    def __init__(self, detail: str, type: str = "provider_error") -> None:
        super().__init__(detail)
        self.type = type


class ProviderTimeout(ProviderError):
    """The model endpoint sent nothing for longer than the timeout."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, type="timeout")


# The one table of wire errors: the handlers answer with these statuses and
# codes, and the client raises these classes for them.
_WIRE: tuple[type[ResumeChatError], ...] = (
    InvalidRequest,
    NotFound,
    GenerationActive,
    TooLarge,
    TooManyGenerations,
    Unavailable,
)
_BY_STATUS = {cls.status: cls for cls in _WIRE}
_OTHER_CODES = {403: "forbidden", 405: "method_not_allowed"}


def code_for_status(status: int) -> str:
    """The ``error`` code of an answer with ``status`` that no domain error made."""
    if status in _BY_STATUS:
        return _BY_STATUS[status].code
    return _OTHER_CODES.get(status, "internal" if status >= 500 else "error")


def error_from_answer(status: int, body: dict[str, object], reason: str = "") -> ResumeChatError:
    """The exception a client raises for an error answer (``body`` may be empty)."""
    if status == 409 and isinstance(body.get("call"), dict):  # a tool call's step refused
        return CallConflict(str(body.get("detail", "")), str(body.get("error", "conflict")), body["call"])  # type: ignore[arg-type]
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls.from_json(body)
    return ServerError(str(body.get("detail", "")) or reason, status, str(body.get("error", "error")))
