"""Real PostgreSQL (and later Redis) for the tests: own database, cleaned up.

Missing services skip with a reason on a developer machine, but fail under
``CI=true``, where they must be there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Iterator

import pytest

PG_DSN = os.environ.get("RESUMECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, as a SQLAlchemy asyncpg URL."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        unavailable("asyncpg is not installed")
    name = f"resumechat_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # connection refused, auth, missing server
        unavailable(f"PostgreSQL at {PG_DSN} is not reachable: {exc}")
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    yield f"{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
