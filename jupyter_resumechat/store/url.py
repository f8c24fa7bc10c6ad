"""Database URLs as users write them, turned into the async URL the engine needs.

A pure function, so the table of drivers is tested with strings::

    sqlite:///chat.db                  -> sqlite+aiosqlite:///chat.db
    sqlite+pysqlite:///chat.db         -> sqlite+aiosqlite:///chat.db
    postgresql://host/db, postgres://  -> postgresql+asyncpg://host/db
    postgresql+psycopg2://host/db      -> postgresql+asyncpg://host/db (pg8000 too)
    sqlite+aiosqlite, postgresql+asyncpg, postgresql+psycopg   unchanged (async already)

A driver with no async counterpart, or a database other than SQLite and
PostgreSQL, is refused with ``ValueError`` saying what to write instead.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["async_url", "shown", "sqlite_file"]

_FIX = "write sqlite:///path/to/chat.db or postgresql://user@host/db"

# dialect -> (async driver to use, drivers already async, sync drivers it replaces)
_DRIVERS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "sqlite": ("aiosqlite", frozenset({"aiosqlite"}), frozenset({"", "pysqlite"})),
    "postgresql": (
        "asyncpg",
        frozenset({"asyncpg", "psycopg", "psycopg_async"}),
        frozenset({"", "psycopg2", "psycopg2cffi", "pg8000"}),
    ),
}
_DIALECT_ALIASES = {"postgres": "postgresql"}


def async_url(url: str) -> str:
    """``url`` with an async driver; raises ValueError naming the fix."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError:
        raise ValueError(f"{shown(url)!r} is not a database URL; {_FIX}") from None
    dialect, _, driver = parsed.drivername.partition("+")
    dialect = _DIALECT_ALIASES.get(dialect, dialect)
    if dialect not in _DRIVERS:
        raise ValueError(f"the database {dialect!r} is not supported (SQLite and PostgreSQL are); {_FIX}")
    chosen, asynchronous, replaced = _DRIVERS[dialect]
    if driver in asynchronous:
        chosen = driver
    elif driver not in replaced:
        raise ValueError(
            f"the driver {driver!r} is synchronous and has no async counterpart here; "
            f"use {dialect}+{chosen}://… or leave the driver out ({_FIX})"
        )
    query = dict(parsed.query)
    if chosen == "asyncpg" and "sslmode" in query:  # libpq's name; asyncpg calls it ssl
        query["ssl"] = query.pop("sslmode")
    return parsed.set(drivername=f"{dialect}+{chosen}", query=query).render_as_string(hide_password=False)


def shown(url: str) -> str:
    """The URL for a message, without a password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1][:200]


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL opens, made absolute as the server opens it: a
    relative path (``sqlite:///chat.db``, three slashes) is relative to the
    folder the server process runs in.  None for other databases, memory and a
    URL that does not parse (the store names that one itself, as a 503)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path.cwd() / parsed.database
