"""The ``ResumeChat`` server extension: configuration and wiring, no logic.

A little over 300 lines because most of it is the traits' help texts
(docs/protocol.md#configuration); everything else it once held lives in ``parts``, ``lifecycle`` and
``handlers``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, TraitError, Unicode, default, validate
from traitlets.config import Config

from . import parts
from .environment import export_location
from .errors import Unavailable
from .handlers import routes
from .jobs import JobManager, JobSettings
from .lifecycle import record_activity, stop_cleanly_on_sigint
from .parts import REDIS_SCHEMES, Parts
from .providers import ProviderSettings, choose_provider
from .redaction import RedactingFilter, Redactor, redactor_for
from .store import async_url
from .store.url import shown as _shown
from .store.url import sqlite_file
from .tools import ToolBox, file_tools, parse_rules
from .tools.mcp import McpConnection
from .tools.mcp_config import parse_servers
from .traits import JsonList

__all__ = ["ResumeChat"]

API = "resumechat/api"
PROVIDERS = ("auto", "openai", "anthropic", "demo")
# the least value of each number trait (seconds for the Float ones)
MINIMUM = {
    **dict.fromkeys(["stream_ttl", "checkpoint_interval", "heartbeat_interval", "provider_timeout"], 0),
    **dict.fromkeys(["demo_delay", "owner_lease", "slow_reader_timeout", "append_coalesce_ms"], 0),
    **dict.fromkeys(["provider_max_retries", "max_active_per_user"], 0),
    **dict.fromkeys(["replay_window", "max_message_chars", "max_tool_rounds", "tool_result_chars"], 1),
    **dict.fromkeys(["tool_wait_timeout"], 1),
}


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
    models = JsonList(
        Unicode(),
        help="More model ids offered by GET models; default none. On the command line a JSON "
        'list (--ResumeChat.models=\'["a","b"]\') or the flag repeated once per id.',
    ).tag(config=True)
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
    context_item_chars = Int(
        8_000,
        help="Largest item attached to a message (a cell, a variable, a file) in characters; "
        "a longer one is cut, saying how much was left out. Default 8000.",
    ).tag(config=True)
    context_tokens = Dict(
        value_trait=Int(),
        default_value={},
        help="Token budget of the conversation sent to each model: {model id or glob: tokens}, "
        "e.g. {'gpt-4o*': 128000, '*': 8192}. The oldest turns are left out to fit; the current "
        "message never is. Models no entry names get 16384.",
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

    tool_approval = Dict(
        value_trait=Unicode(),
        default_value={},
        help="Approval of tool calls: {tool name or glob: 'auto' | 'ask' | 'never'}. By default a "
        "tool that only reads runs at once ('auto'); one that writes or executes asks first. "
        "'never' tools are not offered to the model.",
    ).tag(config=True)
    mcp_servers = Dict(
        default_value={},
        help="MCP servers whose tools runs may call: {name: {'command': ..., 'args': [...], "
        "'env': {...}} | {'url': 'http://...'}} (stdio command or streamable HTTP).",
    ).tag(config=True)
    max_tool_rounds = Int(20, help="Model calls in one run with tools. Default 20.").tag(config=True)
    tool_wait_timeout = Float(
        1800.0,
        help="Seconds a run waits for an approval or a page's result; then its waiting calls end "
        "'cancelled' and the reply 'interrupted'. Default 1800.",
    ).tag(config=True)
    tool_result_chars = Int(
        20_000,
        help="A tool's result is cut to this many characters before the model reads it. Default 20000.",
    ).tag(config=True)

    config_problems = Dict(
        help="Trait -> why its configured value was refused (not configurable): the 503's detail."
    )
    redact: Redactor
    """What every error detail, log line of the extension and health answer passes
    (``redaction``); a part that brings secrets of its own (an MCP server's
    ``env``) registers them with ``redact.add(*values)``."""

    @default("db_url")
    def _default_db_url(self) -> str:
        path = Path(jupyter_data_dir()) / "resumechat" / "resumechat.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"

    @validate(*MINIMUM)
    def _at_least(self, proposal: Any) -> Any:
        name, value = proposal["trait"].name, proposal["value"]
        if value < MINIMUM[name]:
            unit = " seconds" if isinstance(proposal["trait"], Float) else ""
            raise TraitError(f"must be >= {MINIMUM[name]}{unit}, not {value}")
        return value

    @validate("provider")
    def _known_provider(self, proposal: Any) -> str:
        if proposal["value"] not in PROVIDERS:
            raise TraitError(f"{proposal['value']!r} is not a provider; use one of {', '.join(PROVIDERS)}")
        return str(proposal["value"])

    @validate("db_url")
    def _async_db_url(self, proposal: Any) -> str:
        try:
            return async_url(str(proposal["value"]))
        except ValueError as exc:
            raise TraitError(str(exc)) from None

    @validate("stream_backend")
    def _known_backend(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if value != "memory" and not value.startswith(REDIS_SCHEMES):
            raise TraitError(f"{_shown(value)!r} is not a backend; use 'memory' or redis://host:6379/0")
        return value

    @validate("base_url")
    def _http_url(self, proposal: Any) -> str:
        value = str(proposal["value"]).strip()
        if value and not value.startswith(("http://", "https://")):
            raise TraitError(f"{_shown(value)!r} is not an http:// or https:// URL")
        return value

    @validate("tool_approval")
    def _approval_rules(self, proposal: Any) -> dict[str, str]:
        try:
            return {name: value.value for name, value in parse_rules(proposal["value"]).items()}
        except ValueError as exc:
            raise TraitError(str(exc)) from None

    @validate("mcp_servers")
    def _mcp_config(self, proposal: Any) -> dict[str, Any]:
        try:
            parse_servers(proposal["value"])
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        return dict(proposal["value"])

    @validate("models")
    def _model_ids(self, proposal: Any) -> list[str]:
        if any(not str(m).strip() for m in proposal["value"]):
            raise TraitError("model ids must not be empty")
        return [str(m).strip() for m in proposal["value"]]

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        """Load the configuration one trait at a time: a bad value is refused alone
        and kept as a problem (every endpoint then answers 503 naming it), rather
        than failing the extension's load, after which it would vanish into 404s."""
        mine = self._find_my_config(cfg)
        for name, value in mine.items():
            single = Config({type(self).__name__: {name: value}})
            try:
                super()._load_config(single, section_names, traits)
            except (TraitError, ValueError) as exc:
                self.config_problems[name] = f"ResumeChat.{name}: {exc}"
            else:
                self.config_problems.pop(name, None)

    def initialize_settings(self) -> None:
        self._export_location()
        settings = self.provider_settings()
        self.redact = self.redactor(settings)
        self.log.info("resumechat: provider %s, model %s", settings.provider, settings.model)
        # a relative SQLite path depends on the folder the server started in: say which file it is
        self.log.info("resumechat: messages in %s", sqlite_file(self.db_url) or _shown(self.db_url))
        try:
            manager: JobManager | None = self._manager(settings)
            problem = ""
        except Unavailable as exc:
            manager, problem = None, self.redact(exc.detail)
            self.log.error("resumechat: the chat is off until this is fixed: %s", problem)
        # after the parts are built: the modules they imported have made their loggers
        RedactingFilter(self.redact).install()
        self.parts = Parts(
            manager,
            problem,
            settings,
            backends=parts.backends(self.db_url, self.stream_backend),
            db_where=_shown(self.db_url),
            redact=self.redact,
        )

    def redactor(self, settings: ProviderSettings | None = None) -> Redactor:
        """The secrets of this configuration: the model key (trait or environment),
        the passwords of the database, Redis and model URLs."""
        settings = settings or self.provider_settings()
        urls = [self.db_url, self.stream_backend, settings.base_url]
        return redactor_for([self.api_key, settings.api_key], urls, os.environ)

    def _manager(self, settings: ProviderSettings) -> JobManager:
        if self.config_problems:
            raise Unavailable("; ".join(self.config_problems.values()))
        streams = parts.stream_store(
            parts.StreamSettings(
                self.stream_backend,
                self.replay_window,
                self.redis_prefix,
                self.owner_lease,
                self.append_coalesce_ms / 1000,
            )
        )
        return JobManager(
            streams,
            parts.message_store(self.db_url),
            parts.provider(settings),
            JobSettings(
                stream_ttl=self.stream_ttl,
                checkpoint_interval=self.checkpoint_interval,
                max_message_chars=self.max_message_chars,
                context_item_chars=self.context_item_chars,
                context_tokens=dict(self.context_tokens),
                provider_timeout=self.provider_timeout,
                max_active_per_user=self.max_active_per_user,
                isolate_users=self.isolate_users,
                owner_lease=self.owner_lease,
                spool_dir=parts.spool_dir(self.db_url),
                redact=self.redact,
                max_tool_rounds=self.max_tool_rounds,
                tool_result_chars=self.tool_result_chars,
                tool_wait_timeout=self.tool_wait_timeout,
                claim_lease=3 * max(self.owner_lease, 1.0),  # a page holds a call as a server holds a reply
            ),
            on_activity=self._touch,
            toolbox=self._toolbox(),
        )

    def _toolbox(self) -> ToolBox:
        """The file tools on this server's ContentsManager, the page tools, the MCP servers
        (whose secrets every text leaving the server loses)."""
        servers = parse_servers(self.mcp_servers)
        for config in servers.values():
            self.redact.add(*config.secrets)
        contents = self.serverapp.contents_manager if self.serverapp is not None else None
        return ToolBox(
            file_tools(contents) if contents is not None else [],
            {name: McpConnection(config) for name, config in servers.items()},
            parse_rules(self.tool_approval),
        )

    def provider_settings(self) -> ProviderSettings:
        """The provider the traits and the environment choose (``auto`` resolved)."""
        return choose_provider(
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

    def _touch(self) -> None:
        """A running generation counts as activity for idle culling."""
        record_activity(self.serverapp)

    def initialize_handlers(self) -> None:
        common = {
            "parts": self.parts,
            "heartbeat_interval": self.heartbeat_interval,
            "max_body_bytes": self.max_message_chars * 6 + 65_536,
            "write_timeout": self.slow_reader_timeout,
        }
        self.handlers.extend((f"/{API}/{path}", handler, common) for path, handler in routes())

    def _export_location(self) -> None:
        """Tell kernels where this server is (they inherit its environment)."""
        export_location(self.serverapp)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._export_location()  # the port is final only now (port_retries)
        stop_cleanly_on_sigint(serverapp)
        if self.parts.manager is None:
            return  # misconfigured: logged at load
        try:
            await self.parts.start()
        except Unavailable as exc:  # every request retries the start
            self.log.error("resumechat: the chat is off until this is fixed: %s", self.redact(exc.detail))

    async def stop_extension(self) -> None:
        if self.parts.manager is not None:
            await self.parts.manager.stop()

    @property
    def manager(self) -> JobManager | None:
        """The job manager; None when the extension is misconfigured."""
        return self.parts.manager
