"""Refusals decided before a request's body is read, answered once it is in.

Tornado closes the connection when a response ends before the request's body
was read, so a 413 decided from ``Content-Length`` or a 403 from the XSRF
check, answered at once, drops a keep-alive connection under the client's
next pipelined request.  Instead the refusal replaces the handler's method,
which tornado calls once the body has arrived (and been dropped: the handler
keeps at most its limit), and the connection lives on.  A body too large to
be worth reading (``DRAIN_FACTOR`` times the limit) is still refused at once.
"""

from __future__ import annotations

from typing import Any, NoReturn

from tornado import web

__all__ = ["DRAIN_FACTOR", "answer_after_body"]

DRAIN_FACTOR = 4


def answer_after_body(handler: web.RequestHandler, error: BaseException) -> None:
    """Make ``handler``'s method for this request raise ``error`` when tornado calls it."""

    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise error

    setattr(handler, (handler.request.method or "get").lower(), refuse)
