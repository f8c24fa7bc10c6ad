"""``async_url``: plain and sync database URLs get their async driver (docs/protocol.md#configuration);
``sqlite_file``: the file a SQLite URL opens, as the server opens it."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_resumechat.store.url import async_url, sqlite_file

NORMALISED = [
    ("sqlite:///chat.db", "sqlite+aiosqlite:///chat.db"),
    ("sqlite:////abs/path/chat.db", "sqlite+aiosqlite:////abs/path/chat.db"),
    ("sqlite://", "sqlite+aiosqlite://"),
    ("sqlite+pysqlite:///chat.db", "sqlite+aiosqlite:///chat.db"),
    ("sqlite+aiosqlite:///chat.db", "sqlite+aiosqlite:///chat.db"),
    ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgres://u:p@h:5433/db", "postgresql+asyncpg://u:p@h:5433/db"),
    ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+pg8000://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
    ("  postgresql://u@h/db  ", "postgresql+asyncpg://u@h/db"),
    ("postgresql://u:p%40ss@h/db", "postgresql+asyncpg://u:p%40ss@h/db"),
]


@pytest.mark.parametrize(("given", "expected"), NORMALISED)
def test_plain_and_sync_urls_get_the_async_driver(given: str, expected: str) -> None:
    assert async_url(given) == expected


REFUSED = [
    ("sqlite+pysqlcipher:///chat.db", "'pysqlcipher' is synchronous"),
    ("postgresql+pygresql://u@h/db", "'pygresql' is synchronous"),
    ("mysql://u@h/db", "'mysql' is not supported"),
    ("oracle+cx_oracle://u@h/db", "'oracle' is not supported"),
    ("chat.db", "is not a database URL"),
    ("", "is not a database URL"),
]


@pytest.mark.parametrize(("given", "says"), REFUSED)
def test_what_cannot_run_is_refused_with_the_fix(given: str, says: str) -> None:
    with pytest.raises(ValueError) as raised:
        async_url(given)
    assert says in str(raised.value)
    assert "sqlite:///path/to/chat.db or postgresql://" in str(raised.value)


def test_a_refusal_never_shows_the_password() -> None:
    with pytest.raises(ValueError) as raised:
        async_url("mysql://user:secret@h/db")
    assert "secret" not in str(raised.value)


def test_the_sqlite_file_is_where_the_server_opens_it() -> None:
    assert sqlite_file("sqlite:////tmp/x.db") == Path("/tmp/x.db")
    assert sqlite_file("sqlite:///tmp/x.db") == Path.cwd() / "tmp" / "x.db"  # three slashes: relative
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://u@h/tmp") is None
    # a URL that does not parse is the store's to refuse (a named 503), never the log line's to crash on
    assert sqlite_file("not a url at all") is None
    assert sqlite_file("") is None  # what db_url holds when its validator refused the value
