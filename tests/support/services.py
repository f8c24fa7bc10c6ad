"""Real PostgreSQL (and later Redis) for the tests: own database, cleaned up.

Missing services skip with a reason on a developer machine, but fail under
``CI=true``, where they must be there.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

PG_DSN = os.environ.get("RESUMECHAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def run_aside(coro: Any) -> Any:
    """Run ``coro`` on a loop of its own without touching the thread's current
    loop (``asyncio.run`` would unset the one the Jupyter fixtures use)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


async def execute_sql(sql: str, dsn: str = PG_DSN) -> None:
    """Run ``sql`` on PostgreSQL (the admin database, or a test's own: its ``dsn``)."""
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def _postgres_databases() -> Iterator[list[str]]:
    """Databases made by this session, dropped when it ends: after every server
    that used them has stopped (a per-test drop would race the server's shutdown)."""
    made: list[str] = []
    yield made
    run_aside(_drop_all(made))


async def _drop_all(names: list[str], parallel: int = 16) -> None:
    """Drop them side by side: each DROP DATABASE waits for a checkpoint, and
    one after another two hundred of them outlast the last test's timeout."""
    gate = asyncio.Semaphore(parallel)

    async def drop(name: str) -> None:
        async with gate:
            await execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    await asyncio.gather(*(drop(name) for name in names))


@pytest.fixture
def postgres_url(_postgres_databases: list[str]) -> str:
    """A fresh PostgreSQL database for one test, as a SQLAlchemy asyncpg URL."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        unavailable("asyncpg is not installed")
    name = f"resumechat_test_{uuid.uuid4().hex[:12]}"
    try:
        run_aside(execute_sql(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as exc:  # connection refused, auth, missing server
        unavailable(f"PostgreSQL at {PG_DSN} is not reachable: {exc}")
    _postgres_databases.append(name)
    base = PG_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


REDIS_URL = os.environ.get("RESUMECHAT_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def _redis_prefixes() -> Iterator[list[str]]:
    """Prefixes used by this session; their keys are deleted when it ends, after
    every server using them has stopped."""
    made: list[str] = []
    yield made
    if not made:
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for prefix in made:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    client.close()


@pytest.fixture
def redis_prefix(_redis_prefixes: list[str]) -> str:
    """A key prefix of one test's own on the real Redis."""
    try:
        import redis
    except ImportError:
        unavailable("redis-py is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}")
    finally:
        client.close()
    prefix = f"rctest:{uuid.uuid4().hex[:12]}:"
    _redis_prefixes.append(prefix)
    return prefix
