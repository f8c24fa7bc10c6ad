"""The ``ResumeChat`` server extension: configuration and wiring, no logic."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Unicode, default, validate

from .environment import TOKEN_VAR, URL_VAR
from .handlers import (
    ConversationHandler,
    ConversationsHandler,
    MessagesHandler,
    ModelsHandler,
    OpenAPIHandler,
    StreamAbortHandler,
    StreamStatusHandler,
)
from .jobs import JobManager, JobSettings
from .providers import ProviderSettings, choose_provider, make_provider
from .sse import EventStreamHandler
from .store import MessageStore
from .streams import MemoryStreamStore, StreamStore

__all__ = ["ResumeChat"]

API = "resumechat/api"


class ResumeChat(ExtensionApp):
    """A language-model chat whose replies survive every disconnect."""

    name = "jupyter_resumechat"
    load_other_extensions = True

    provider = Unicode(
        "auto",
        help="Model provider: 'openai' (any OpenAI-compatible endpoint), 'anthropic', "
        "'demo' (offline, no key), or 'auto' (OpenAI if a key or base URL is set, else "
        "Anthropic if its key is set, else demo). Default: 'auto'.",
    ).tag(config=True)
    model = Unicode("", help="Model id; empty: the provider's default.").tag(config=True)
    models = List(Unicode(), help="More model ids offered by GET models; default none.").tag(config=True)
    base_url = Unicode(
        "", help="Endpoint URL; empty: OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the vendor's."
    ).tag(config=True)
    api_key = Unicode(
        "", help="API key; empty: OPENAI_API_KEY / ANTHROPIC_API_KEY. Never sent to clients."
    ).tag(config=True)
    db_url = Unicode(
        "",
        help="SQLAlchemy async URL, e.g. postgresql+asyncpg://host/db; empty: a SQLite "
        "file resumechat/resumechat.db in the Jupyter data directory.",
    ).tag(config=True)
    stream_backend = Unicode(
        "memory", help="Where stream events live: 'memory' (this server) or a redis:// URL."
    ).tag(config=True)
    redis_prefix = Unicode(
        "resumechat:",
        help="Prefix of every Redis key and channel (stream_backend redis://). "
        "Default 'resumechat:'; servers that share streams must share it.",
    ).tag(config=True)
    append_coalesce_ms = Float(
        10.0,
        help="Milliseconds a reply's pieces may wait to go to Redis together (stream_backend "
        "redis:// only): the first piece after a quiet spell goes at once, later ones at most "
        "once per window, every stream's batch in one round trip. Default 10; 0: one Redis "
        "call per piece.",
    ).tag(config=True)
    owner_lease = Float(
        10.0,
        help="Seconds a server's claim on its running generations lasts without renewal "
        "(shared Redis only). When a server dies, another marks its replies 'interrupted' "
        "within about this time. Default 10.",
    ).tag(config=True)
    stream_ttl = Float(
        300.0,
        help="Seconds a finished stream stays resumable before 404. Default 300; 0: "
        "forgotten at once (clients reload the messages).",
    ).tag(config=True)
    replay_window = Int(
        10_000, help="Events kept per stream for exact replay; older resumes get a snapshot. Default 10000."
    ).tag(config=True)
    checkpoint_interval = Float(
        1.0, help="Seconds between checkpoints of a reply's partial text. Default 1.0."
    ).tag(config=True)
    heartbeat_interval = Float(15.0, help="Seconds between SSE keepalive comments. Default 15.").tag(
        config=True
    )
    slow_reader_timeout = Float(
        30.0,
        help="Seconds an event-stream reader may leave the server unable to write to it "
        "before it is dropped (it can resume with its last id). Default 30.",
    ).tag(config=True)
    max_message_chars = Int(
        100_000, help="Largest user message in characters; larger ones get 413. Default 100000."
    ).tag(config=True)
    provider_timeout = Float(
        60.0,
        help="Seconds the model may send nothing before the reply ends with an error "
        "(also the SDK's read timeout). Default 60.",
    ).tag(config=True)
    provider_max_retries = Int(
        2,
        help="Retries of a model request that failed before any reply arrived "
        "(connection errors, 429, 5xx). Default 2; 0: none.",
    ).tag(config=True)
    demo_delay = Float(0.02, help="Seconds between pieces of the demo model's reply. Default 0.02.").tag(
        config=True
    )
    max_active_per_user = Int(
        0, help="Concurrent generations a user may run (429 beyond). Default 0: no cap."
    ).tag(config=True)
    isolate_users = Bool(
        False,
        help="Conversations belong to the Jupyter user who made them; others get 404. "
        "Turn on where identities are real (JupyterHub). Default False.",
    ).tag(config=True)

    @default("db_url")
    def _default_db_url(self) -> str:
        path = Path(jupyter_data_dir()) / "resumechat" / "resumechat.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"

    @validate(
        "stream_ttl",
        "checkpoint_interval",
        "heartbeat_interval",
        "provider_timeout",
        "demo_delay",
        "owner_lease",
        "slow_reader_timeout",
        "append_coalesce_ms",
    )
    def _non_negative(self, proposal: Any) -> float:
        if proposal["value"] < 0:
            raise ValueError(f"{proposal['trait'].name} must be >= 0")
        return float(proposal["value"])

    @validate("stream_backend")
    def _known_backend(self, proposal: Any) -> str:
        value = str(proposal["value"])
        if value != "memory" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("stream_backend must be 'memory' or a redis:// URL")
        return value

    @validate("replay_window", "max_message_chars")
    def _positive(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"{proposal['trait'].name} must be >= 1")
        return int(proposal["value"])

    @validate("provider")
    def _known_provider(self, proposal: Any) -> str:
        if proposal["value"] not in {"auto", "openai", "anthropic", "demo"}:
            raise ValueError("provider must be one of auto, openai, anthropic, demo")
        return str(proposal["value"])

    def initialize_settings(self) -> None:
        self._export_location()
        self.manager = JobManager(
            self._stream_store(),
            MessageStore(self.db_url),
            make_provider(self._provider_settings()),
            JobSettings(
                stream_ttl=self.stream_ttl,
                checkpoint_interval=self.checkpoint_interval,
                max_message_chars=self.max_message_chars,
                provider_timeout=self.provider_timeout,
                max_active_per_user=self.max_active_per_user,
                isolate_users=self.isolate_users,
                owner_lease=self.owner_lease,
                spool_dir=self._spool_dir(),
            ),
            on_activity=self._touch,
        )

    def _spool_dir(self) -> Path:
        """Where finals wait when the database is down at stop: one folder per
        database, so a changed ``db_url`` never replays them into another."""
        digest = hashlib.sha256(self.db_url.encode()).hexdigest()[:16]
        return Path(jupyter_data_dir()) / "resumechat" / "unsaved" / digest

    def _provider_settings(self) -> ProviderSettings:
        chosen = choose_provider(
            ProviderSettings(
                self.provider,
                self.model,
                self.base_url,
                self.api_key,
                self.provider_timeout,
                self.provider_max_retries,
                self.demo_delay,
                list(self.models),
            ),
            os.environ,
        )
        self.log.info("resumechat: provider %s, model %s", chosen.provider, chosen.model)
        return chosen

    def _stream_store(self) -> StreamStore:
        if self.stream_backend == "memory":
            return MemoryStreamStore(self.replay_window)
        if self.stream_backend.startswith(("redis://", "rediss://", "unix://")):
            from .streams.redis import RedisStreamStore

            return RedisStreamStore(
                self.stream_backend,
                replay_window=self.replay_window,
                prefix=self.redis_prefix,
                lease=self.owner_lease,
                coalesce=self.append_coalesce_ms / 1000,
            )
        raise ValueError(f"stream_backend must be 'memory' or a redis:// URL, not {self.stream_backend!r}")

    def _touch(self) -> None:
        """A running generation counts as activity for idle culling."""
        from jupyter_server._tz import utcnow

        if self.serverapp is not None:
            self.serverapp.web_app.settings["resumechat_last_activity"] = utcnow()

    def initialize_handlers(self) -> None:
        common = {
            "manager": self.manager,
            "heartbeat_interval": self.heartbeat_interval,
            "max_body_bytes": self.max_message_chars * 6 + 65_536,
            "write_timeout": self.slow_reader_timeout,
        }
        routes = [
            ("conversations", ConversationsHandler),
            ("conversations/([^/]+)", ConversationHandler),
            ("conversations/([^/]+)/messages", MessagesHandler),
            ("conversations/([^/]+)/stream", StreamStatusHandler),
            ("streams/([^/]+)/events", EventStreamHandler),
            ("streams/([^/]+)/abort", StreamAbortHandler),
            ("models", ModelsHandler),
            ("openapi.json", OpenAPIHandler),
        ]
        self.handlers.extend((f"/{API}/{path}", handler, common) for path, handler in routes)

    def _export_location(self) -> None:
        """Tell kernels where this server is: they inherit its environment (and
        keep it across restarts), so ``Client.from_kernel()`` needs no setup."""
        app = self.serverapp
        if app is None or app.sock:
            return
        host = app.ip if app.ip not in {"", "0.0.0.0", "::", "*", "localhost"} else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if app.certfile else "http"
        os.environ[URL_VAR] = f"{scheme}://{host}:{app.port}{app.base_url}"
        token = getattr(app.identity_provider, "token", "")
        if token:
            os.environ[TOKEN_VAR] = token

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._export_location()  # the port is final only now (port_retries)
        _stop_cleanly_on_sigint(serverapp)
        await self.manager.start()

    async def stop_extension(self) -> None:
        await self.manager.stop()


def _stop_cleanly_on_sigint(serverapp: Any) -> None:
    """SIGINT stops the server like SIGTERM (DESIGN §2.9).

    Without a terminal jupyter_server leaves SIGINT to Python, whose
    KeyboardInterrupt ends the process without stopping the extensions; that is
    how JupyterHub's local spawners stop a server.  With a terminal the
    server's own prompt ("Shut down this Jupyter server?") is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, serverapp._signal_stop)
