"""``jupyter resumechat doctor``: is this setup going to work, and if not, what to fix.

Reads the configuration the server reads (the Jupyter config files, then
``--ResumeChat.<name>=…`` on the command line), then checks the database,
the stream backend and the model endpoint with real requests, each bounded
in time, and prints one line per part with the fix.  Exit status 0 when the
chat will work, 1 when something must be fixed, 2 for a usage error.

The server never imports this package.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from jupyter_core.application import JupyterApp
from traitlets import default
from traitlets.config import Application
from traitlets.config.loader import ConfigFileNotFound

from ..app import ResumeChat
from ..redaction import Redactor
from .checks import Finding, Level, check_database, check_mcp, check_model, check_streams

__all__ = ["DoctorApp", "main", "run_checks"]

USAGE = "usage: jupyter resumechat doctor [--ResumeChat.<name>=<value> ...]"
TIMEOUT = 10.0  # seconds each check may take


class DoctorApp(JupyterApp):
    """Loads the server's configuration files and command-line traits, no server."""

    name = "jupyter-resumechat"
    description = "Check a jupyter-resumechat setup: database, Redis, model endpoint."
    classes = [ResumeChat]  # noqa: RUF012 (traitlets reads it from the class)

    @default("config_file_name")
    def _server_config_file(self) -> str:
        return "jupyter_server_config"

    def load_config_file(self, suppress_errors: bool = True) -> None:  # type: ignore[override]
        """The server's files, then the extension's own (``jupyter_jupyter_resumechat_config``)."""
        super().load_config_file(suppress_errors)
        try:
            Application.load_config_file(
                self, f"jupyter_{ResumeChat.name}_config", path=self.config_file_paths
            )
        except ConfigFileNotFound:
            pass

    def settings(self) -> ResumeChat:
        """A ResumeChat holding the configured traits (and the refused ones)."""
        return ResumeChat(config=self.config)


async def run_checks(chat: ResumeChat, timeout: float = TIMEOUT) -> list[Finding]:
    """Every check, side by side; the configuration's refusals first."""
    refused = [Finding("configuration", Level.FAIL, problem, "") for problem in chat.config_problems.values()]
    found = await asyncio.gather(
        check_database(chat.db_url, timeout),
        check_streams(chat.stream_backend, chat.redis_prefix, timeout),
        check_model(chat.provider_settings(), min(timeout, chat.provider_timeout or timeout)),
    )
    tools = await check_mcp(chat.mcp_servers, timeout) if chat.mcp_servers else []
    return [*refused, *found, *tools]


def report(findings: list[Finding], files: list[str], out: Any, redact: Redactor | None = None) -> int:
    """Print the findings, without a secret (an endpoint may echo the key); the exit status."""
    redact = redact or Redactor()
    print("jupyter-resumechat doctor", file=out)
    print(f"  config files: {', '.join(files) if files else 'none (defaults and command line)'}", file=out)
    for finding in findings:
        print(f"  {finding.part:<14}{finding.level.value:<6}{redact(finding.summary)}", file=out)
        if finding.fix and finding.level is not Level.OK:
            print(f"  {'':<14}{'fix:':<6}{redact(finding.fix)}", file=out)
    failed = sum(f.level is Level.FAIL for f in findings)
    print(f"{failed} problem(s) to fix." if failed else "All good: the chat should work.", file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``jupyter-resumechat doctor [--ResumeChat.x=y ...]``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "doctor" or any(a in {"-h", "--help"} for a in args):
        print(USAGE, file=sys.stderr if args and args[0] != "doctor" else sys.stdout)
        return 0 if args and args[0] == "doctor" else 2
    app = DoctorApp()
    app.initialize(args[1:])
    chat = app.settings()
    findings = asyncio.run(run_checks(chat))
    return report(findings, list(app.loaded_config_files), sys.stdout, chat.redactor())
