"""The extension's parts built from its settings, or the named reason they cannot be.

Every failure here is ``Unavailable`` whose detail names the trait and the fix
(docs/protocol.md#named-failures): the app logs it once and every endpoint answers 503 with it,
rather than the extension vanishing into 404s.  ``Parts`` is what the handlers
get: the job manager, or why there is none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

from .errors import Unavailable
from .jobs import JobManager
from .jobs.health import Health, check_health
from .providers import Provider, ProviderSettings, make_provider
from .redaction import Redactor
from .store import MessageStore, async_url
from .store.url import shown
from .streams import MemoryStreamStore, StreamStore

__all__ = [
    "Parts",
    "StreamSettings",
    "backends",
    "message_store",
    "provider",
    "spool_dir",
    "stream_store",
]

# the module a missing driver lives in -> the extra that installs it
_EXTRAS = {"asyncpg": "postgres", "redis": "redis", "anthropic": "anthropic"}
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
HEALTH_TIMEOUT = 3.0  # seconds each store's probe may take: a stopped Redis must not hang health


def _install(module: str) -> str:
    extra = _EXTRAS.get(module)
    return f'pip install "jupyter-resumechat[{extra}]"' if extra else f"pip install {module}"


def _missing(trait: str, module: str, exc: ImportError) -> Unavailable:
    return Unavailable(
        f"ResumeChat.{trait}: the Python module {module!r} cannot be imported ({exc}); "
        f"install it: {_install(module)}"
    )


def message_store(db_url: str) -> MessageStore:
    """The MessageStore for ``db_url`` (plain URLs get their async driver)."""
    try:
        url = async_url(db_url)
    except ValueError as exc:
        raise Unavailable(f"ResumeChat.db_url: {exc}") from None
    try:
        return MessageStore(url)
    except ImportError as exc:
        raise _missing("db_url", (exc.name or "asyncpg").split(".")[0], exc) from None


@dataclass(frozen=True)
class StreamSettings:
    backend: str
    replay_window: int
    prefix: str
    lease: float
    coalesce: float = 0.0  # seconds a Redis append may wait to go with others


def stream_store(settings: StreamSettings) -> StreamStore:
    """The StreamStore ``stream_backend`` names: memory, or Redis (the ``[redis]`` extra)."""
    if settings.backend == "memory":
        return MemoryStreamStore(settings.replay_window)
    if not settings.backend.startswith(REDIS_SCHEMES):
        raise Unavailable(
            f"ResumeChat.stream_backend: {shown(settings.backend)!r} is not a backend; "
            "use 'memory' or redis://host:6379/0"
        )
    try:
        from .streams.redis import RedisStreamStore
    except ImportError as exc:
        raise _missing("stream_backend", "redis", exc) from None
    return RedisStreamStore(
        settings.backend,
        replay_window=settings.replay_window,
        prefix=settings.prefix,
        lease=settings.lease,
        coalesce=settings.coalesce,
    )


def backends(db_url: str, stream_backend: str) -> tuple[str, str]:
    """(database dialect, stream backend) as health names them, even when unbuilt."""
    dialect = db_url.split(":", 1)[0].split("+", 1)[0]
    return dialect, "memory" if stream_backend == "memory" else "redis"


def spool_dir(db_url: str) -> Path:
    """Where finals wait when the database is down at stop: one folder per
    database, so a changed ``db_url`` never replays them into another."""
    digest = hashlib.sha256(db_url.encode()).hexdigest()[:16]
    return Path(jupyter_data_dir()) / "resumechat" / "unsaved" / digest


def provider(settings: ProviderSettings) -> Provider:
    """The provider ``settings`` resolved to (``anthropic`` needs its extra)."""
    try:
        return make_provider(settings)
    except ImportError as exc:
        raise _missing("provider", (exc.name or settings.provider).split(".")[0], exc) from None


class Parts:
    """The job manager, or the reason there is none (``problem``)."""

    def __init__(
        self,
        manager: JobManager | None,
        problem: str,
        settings: ProviderSettings,
        *,
        backends: tuple[str, str] = ("", ""),
        db_where: str = "",
        redact: Redactor | None = None,
    ) -> None:
        self.manager = manager
        self.problem = problem
        self.redact = redact or Redactor()  # what every answered error detail passes
        self.settings = settings
        self.backends = backends  # (database dialect, stream backend): named even when unbuilt
        self.db_where = db_where  # db_url without its password

    async def start(self) -> JobManager:
        """The started manager; ``Unavailable`` naming the trait and the fix when
        the extension is misconfigured or the database cannot be reached (retried
        by every call, so the chat comes back with the database)."""
        if self.manager is None:
            raise Unavailable(self.problem)
        try:
            await self.manager.start()
        except Unavailable as exc:
            raise Unavailable(self.start_failure(exc)) from None
        self.manager.messages.versions.refuse()  # the database moved past this server
        return self.manager

    def start_failure(self, exc: Unavailable) -> str:
        return (
            f"{exc.detail} (ResumeChat.db_url = {self.db_where}); start the database "
            "or fix ResumeChat.db_url, then retry: the chat starts with the next request"
        )

    async def health(self) -> Health:
        """What ``GET health`` answers; ``ok`` False names what is wrong."""
        if self.manager is None:
            return Health.misconfigured(
                self.settings.provider, self.settings.model, self.problem, self.backends
            )
        problem = ""
        try:  # bounded by the driver's connect timeout, and done once it succeeded
            await self.start()
        except Unavailable as exc:
            problem = exc.detail
        return await check_health(self.manager, HEALTH_TIMEOUT, problem)
