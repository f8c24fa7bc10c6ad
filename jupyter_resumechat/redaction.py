"""Secrets never leave the server: the one function every outgoing text passes.

A model endpoint (or a gateway in front of it) may echo the request's
``Authorization`` or ``x-api-key`` header in its error body; a database or
Redis URL may carry a password; later, an MCP server's environment carries
its own keys.  Every error detail that is stored or sent, every log line of
the extension, the health answer and the doctor's report go through one
``Redactor``, which removes:

* the configured secrets, literally (and URL-encoded): the model API key and
  whatever the app registers with ``Redactor.add`` (the hook for the MCP
  servers' ``env`` values); values shorter than ``MIN_SECRET_CHARS`` are not
  secrets worth the damage masking them would do to ordinary text;
* what has the shape of a credential, known or not: ``Bearer …`` / ``Basic …``
  values, ``api_key=…``, ``x-api-key: …``, ``"authorization": "…"``,
  ``password=…``, ``token=…`` and the like, ``sk-…`` keys, and the password
  (or the lone token) in a URL's user information.

Pure and synchronous, so it is tested with strings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

__all__ = ["MASK", "MIN_SECRET_CHARS", "SECRET_ENV", "RedactingFilter", "Redactor", "redactor_for"]

MASK = "***"
MIN_SECRET_CHARS = 8
SECRET_ENV = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
"""Environment variables whose values are secrets whichever provider runs."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # an HTTP authorization value: "Bearer sk-…", "Basic dXNlcjpwYXNzMQ=="
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=:-]{6,}"), rf"\1\2{MASK}"),
    (re.compile(r"\b(Basic)(\s+)(?=[A-Za-z+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}"), rf"\1\2{MASK}"),
    # a credential-named header, field or parameter and its value, in text, JSON or a query
    (
        re.compile(
            r"(?i)\b((?:x-)?api[-_]?key|x-goog-api-key|authorization|proxy-authorization"
            r"|access[-_]token|refresh[-_]token|client[-_]secret|secret|password|passwd|token)"
            r"""(["']?\s*[:=]\s*["']?)(?!\*\*\*)([^\s"',;&}{)\]]+)"""
        ),
        rf"\1\2{MASK}",
    ),
    # keys with a vendor's shape (OpenAI, Anthropic, OpenRouter…), wherever they appear
    (re.compile(r"\bsk-[A-Za-z0-9_-]{12,}"), MASK),
    # a URL's password: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]+@"), rf"\1:{MASK}@"),
    # a URL's lone token: scheme://token@host (GitHub-style)
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]{16,}@"), rf"\1{MASK}@"),
)


class Redactor:
    """Removes secrets from text; callable.  One per app, shared by every part
    that sends, stores or logs a text that may carry an upstream's words."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *values: str) -> None:
        """Register more secret values (an MCP server's env, a new key)."""
        fresh = {v for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_CHARS}
        fresh |= {quote(v, safe="") for v in fresh}
        if fresh - self._secrets:
            self._secrets |= fresh
            longest_first = sorted(self._secrets, key=len, reverse=True)
            self._literal = re.compile("|".join(re.escape(v) for v in longest_first))

    def __call__(self, text: str) -> str:
        """``text`` without any secret it held."""
        if not text:
            return text
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def json(self, value: Any) -> Any:
        """Every string in a JSON value (keys kept), redacted."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.json(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.json(item) for item in value]
        return value


def redactor_for(keys: Iterable[str], urls: Iterable[str], env: Mapping[str, str]) -> Redactor:
    """A Redactor of the configured ``keys``, the model keys in ``env``
    (``SECRET_ENV``) and the password of each of ``urls`` (database, Redis, model)."""
    passwords = []
    for url in urls:
        try:
            passwords.append(urlsplit(url).password or "")
        except ValueError:  # not a URL: the patterns still cover a user:password@ part
            continue
    return Redactor([*keys, *(env.get(name, "") for name in SECRET_ENV), *passwords])


class RedactingFilter(logging.Filter):
    """Redacts a log record's message, arguments and traceback before any handler
    formats it.  Attached to each of the extension's loggers (``install``)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a call with the wrong arguments: logging reports it later
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def install(self, *loggers: logging.Logger, prefix: str = "jupyter_resumechat") -> None:
        """Attach to ``loggers`` and to every logger named ``prefix`` or below it.

        A logger's filters see only what is logged to that very logger, not what
        its children pass up, hence one attachment per logger; call again after
        importing a module that makes a logger of its own.  A RedactingFilter
        already there (an earlier app in the same process) is replaced.
        """
        known = logging.Logger.manager.loggerDict
        ours = [logging.getLogger(name) for name in list(known) if name.split(".")[0] == prefix]
        for logger in {*loggers, logging.getLogger(prefix), *ours}:
            for old in [f for f in logger.filters if isinstance(f, RedactingFilter) and f is not self]:
                logger.removeFilter(old)
            if self not in logger.filters:
                logger.addFilter(self)
