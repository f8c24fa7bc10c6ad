"""The doctor's checks: the database, Redis and the model endpoint, each bounded in time.

Each check returns a ``Finding``: what was found and, when something is
wrong, what to do about it, naming the trait to change.  Nothing here is
imported by the server.
"""

from __future__ import annotations

import asyncio
import enum
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from ..errors import ProviderError, ProviderTimeout
from ..providers import ProviderSettings, make_provider
from ..providers.base import ChatTurn
from ..redaction import Redactor
from ..store import async_url
from ..store.engine import DATABASE_ERRORS, make_engine, reason
from ..store.schema import SCHEMA_VERSION
from ..store.setup import schema_version_of
from ..store.url import shown, sqlite_file

__all__ = ["Finding", "Level", "check_database", "check_model", "check_streams"]

PROBE_PROMPT = "Reply with the single word: ok"


class Level(enum.Enum):
    OK = "ok"
    WARN = "warn"  # works, but worth knowing
    FAIL = "FAIL"  # the chat will not work until this is fixed


@dataclass(frozen=True)
class Finding:
    part: str
    level: Level
    summary: str
    fix: str = ""


async def check_database(db_url: str, timeout: float) -> Finding:
    """Reachable, and at which schema version (migrations pending or not).  A
    SQLite file is judged where the server will open it (``sqlite_file``)."""
    try:
        url = async_url(db_url)
    except ValueError as exc:
        return Finding("database", Level.FAIL, str(exc), "fix ResumeChat.db_url")
    finding = await _reach_database(url, timeout)
    return _relative_sqlite(url, finding)


async def _reach_database(url: str, timeout: float) -> Finding:
    where = shown(url)
    file = sqlite_file(url)
    if file is not None and not file.exists():
        return _sqlite_to_be(file, where)
    try:
        engine = make_engine(url)
    except ImportError as exc:
        return Finding(
            "database", Level.FAIL, f"{where}: {exc}", 'pip install "jupyter-resumechat[postgres]"'
        )
    try:
        version = await asyncio.wait_for(schema_version_of(engine), timeout)
    except (*DATABASE_ERRORS, asyncio.TimeoutError) as exc:
        summary = f"{where}: cannot reach the database: {reason(exc) or f'no answer within {timeout:g} s'}"
        return Finding("database", Level.FAIL, summary, "start the database, or fix ResumeChat.db_url")
    finally:
        await engine.dispose()
    return _schema_finding(where, url, version)


def _sqlite_to_be(file: Path, where: str) -> Finding:
    """No file yet: the server creates the file, but not its folder."""
    folder = file.parent
    if not folder.is_dir():
        return Finding(
            "database",
            Level.FAIL,
            f"{where}: the folder {folder} does not exist (the server creates the file, not its folder)",
            f"mkdir -p {folder}, or fix ResumeChat.db_url",
        )
    if not os.access(folder, os.W_OK):
        return Finding(
            "database",
            Level.FAIL,
            f"{where}: {folder} is not writable",
            "fix ResumeChat.db_url or the permissions",
        )
    return Finding(
        "database", Level.OK, f"{where}: no file yet; the server creates {file} at its first start"
    )


def _relative_sqlite(url: str, finding: Finding) -> Finding:
    """A relative SQLite path (three slashes) depends on the folder the server is
    started in: said, with the absolute URL the user probably meant."""
    database = make_url(url).database or ""
    file = sqlite_file(url)
    if file is None or Path(database).is_absolute():
        return finding
    note = f"; the path is relative: a server started here opens {file}, one started elsewhere another file"
    fix = f"for /{database} write sqlite:////{database} (four slashes)"
    level = Level.WARN if finding.level is Level.OK else finding.level
    return replace(
        finding, level=level, summary=finding.summary + note, fix="; ".join(filter(None, [finding.fix, fix]))
    )


def _schema_finding(where: str, url: str, version: int | None) -> Finding:
    if version is None:
        return Finding("database", Level.OK, f"{where}: reachable, no schema yet (the server creates it)")
    if version > SCHEMA_VERSION:
        return Finding(
            "database",
            Level.FAIL,
            f"{where}: schema version {version} is newer than this package understands ({SCHEMA_VERSION})",
            "upgrade jupyter-resumechat",
        )
    if version < SCHEMA_VERSION:
        return Finding(
            "database",
            Level.WARN,
            f"{where}: schema version {version}, migrations to {SCHEMA_VERSION} pending "
            "(a starting server applies them online, while older servers keep serving)",
            f"or now: python -m jupyter_resumechat.store.migrate '{shown(url)}'",
        )
    return Finding("database", Level.OK, f"{where}: reachable, schema version {version} (current)")


async def check_streams(backend: str, prefix: str, timeout: float) -> Finding:
    """Memory needs nothing; Redis must answer, be 5 or newer, and take a Stream and a script."""
    if backend == "memory":
        return Finding("streams", Level.OK, "memory: streams live in the server (one server only)")
    parts = urlsplit(backend)
    where = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    try:
        from redis import asyncio as aioredis
        from redis.exceptions import RedisError
    except ImportError as exc:
        return Finding("streams", Level.FAIL, f"{where}: {exc}", 'pip install "jupyter-resumechat[redis]"')
    client = aioredis.Redis.from_url(backend, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        version = await asyncio.wait_for(_redis_probe(client, prefix), timeout * 3)
    except (RedisError, OSError, asyncio.TimeoutError) as exc:
        summary = f"{where}: cannot use Redis: {type(exc).__name__}: {exc}".rstrip(": ")
        return Finding("streams", Level.FAIL, summary, "start Redis, or fix ResumeChat.stream_backend")
    finally:
        await client.aclose()
    if int(version.split(".")[0]) < 5:
        return Finding(
            "streams", Level.FAIL, f"{where}: Redis {version} has no Streams", "use Redis 5 or newer"
        )
    return Finding("streams", Level.OK, f"{where}: Redis {version}, Streams and scripts work")


async def _redis_probe(redis: Any, prefix: str) -> str:
    info = await redis.info("server")
    key = f"{prefix}doctor:{uuid.uuid4().hex}"
    try:
        await redis.xadd(key, {"probe": "1"}, maxlen=1)
        await redis.eval("return 1", 0)
    finally:
        await redis.delete(key)
    return str(info.get("redis_version", "0"))


async def check_model(settings: ProviderSettings, timeout: float) -> Finding:
    """A real request: the first piece of a reply, or why there is none."""
    target = f"{settings.provider} {settings.model}" + (
        f" at {shown(settings.base_url)}" if settings.base_url else ""
    )
    if settings.provider == "demo":
        return Finding("model", Level.OK, "demo: the offline model, nothing to reach")
    if not settings.api_key and not settings.base_url:
        key = "OPENAI_API_KEY" if settings.provider == "openai" else "ANTHROPIC_API_KEY"
        return Finding("model", Level.FAIL, f"{target}: no API key", f"set {key} or ResumeChat.api_key")
    try:
        provider = make_provider(replace(settings, max_retries=0, timeout=timeout))
    except ImportError as exc:
        return Finding(
            "model", Level.FAIL, f"{target}: {exc}", f'pip install "jupyter-resumechat[{settings.provider}]"'
        )
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        first = await asyncio.wait_for(_first_piece(provider, settings.model), timeout)
    except (ProviderError, asyncio.TimeoutError) as exc:
        summary, fix = _explain(exc, settings, timeout)
        return Finding("model", Level.FAIL, f"{target}: {summary}", fix)
    finally:
        await provider.close()
    return Finding("model", Level.OK, f"{target}: answered {first!r} in {loop.time() - began:.1f} s")


async def _first_piece(provider: Any, model: str) -> str:
    pieces = provider.stream(model, [ChatTurn("user", PROBE_PROMPT)])
    try:
        async for delta in pieces:
            return str(delta.text or delta.reasoning)
    finally:
        await pieces.aclose()
    return ""


def _explain(exc: BaseException, settings: ProviderSettings, timeout: float) -> tuple[str, str]:
    """What went wrong with the model endpoint, and what to change."""
    key = "OPENAI_API_KEY" if settings.provider == "openai" else "ANTHROPIC_API_KEY"
    text = Redactor([settings.api_key])(str(exc))  # some proxies echo the key in their error
    if isinstance(exc, (asyncio.TimeoutError, ProviderTimeout)):
        return f"no answer within {timeout:g} s", "check ResumeChat.base_url, or the endpoint's load"
    if "answered 401" in text or "answered 403" in text:
        return f"the endpoint refused the key: {text}", f"set a valid {key} or ResumeChat.api_key"
    if "answered 404" in text:
        return f"unknown model or path: {text}", "fix ResumeChat.model or ResumeChat.base_url"
    if _caused_by(exc, socket.gaierror):
        host = urlsplit(settings.base_url).hostname or "the endpoint's host"
        return f"cannot resolve {host} (DNS)", "fix ResumeChat.base_url, or the network"
    if isinstance(exc, ProviderError) and exc.type == "connection":
        return f"cannot connect: {text}", "start the model server, or fix ResumeChat.base_url"
    return text, "check ResumeChat.provider, model, base_url and api_key"


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, kind):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


async def check_mcp(servers: Mapping[str, Any], timeout: float) -> list[Finding]:
    """Each configured MCP server must start and list its tools (one finding each)."""
    from ..tools import ToolFailed
    from ..tools.mcp import McpConnection
    from ..tools.mcp_config import parse_servers

    try:
        configs = parse_servers(servers)
    except ValueError as exc:
        return [Finding("mcp", Level.FAIL, str(exc), "fix ResumeChat.mcp_servers")]
    found = []
    for name, config in configs.items():
        connection = McpConnection(config, start_timeout=timeout)
        task = asyncio.create_task(connection.run())
        try:
            specs = await connection.tools()
            found.append(Finding(f"mcp {name}", Level.OK, f"{config.where}: {len(specs)} tool(s)"))
        except ToolFailed as exc:
            fix = f"check ResumeChat.mcp_servers[{name!r}] (its command, URL and environment)"
            found.append(Finding(f"mcp {name}", Level.FAIL, exc.detail, fix))
        finally:
            connection.stop()
            await asyncio.wait([task], timeout=5)
            if not task.done():
                task.cancel()
    return found
