"""The database engine: async drivers, SQLite's pragmas, and one error mapping.

Every store method that touches the database is wrapped by ``guarded``: a
driver's failure becomes ``Unavailable`` (503, naming the database) and data
the database refuses becomes ``InvalidRequest`` (400), never a driver's own
exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..errors import InvalidRequest, Unavailable

__all__ = ["DATABASE_ERRORS", "guarded", "make_engine", "reason"]

_T = TypeVar("_T")
_S = TypeVar("_S")
_P = ParamSpec("_P")

DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


def make_engine(url: str, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite in WAL mode with foreign keys on."""
    engine = create_async_engine(url, echo=echo, **_engine_options(url))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def guarded(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _T]]:
    """Turn driver failures into our errors: bad text is 400, the rest 503."""

    @functools.wraps(method)
    async def wrapper(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(self, *args, **kwargs)
        except (IntegrityError, DataError) as exc:
            raise InvalidRequest(f"the database refused the data: {exc.orig}") from None
        except DATABASE_ERRORS as exc:
            raise Unavailable(f"the database is unavailable: {reason(exc)}") from exc

    return wrapper


def reason(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {inner}".strip()[:300]


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    if "asyncpg" in url:
        # bounded: a cut connection must fail, not hang a commit forever
        return {"pool_pre_ping": True, "connect_args": {"timeout": 10, "command_timeout": 30}}
    return {"pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
