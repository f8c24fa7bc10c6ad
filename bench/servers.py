"""Servers the benchmarks drive: a real Jupyter server with the extension (the
test kit's ``ServerProcess``), and the bare tornado SSE handler that is the
physical limit of this stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server_process import TOKEN, ServerProcess, free_port

HEADERS = {"Authorization": f"token {TOKEN}"}


class Process:
    """The bare server in its own process (its own core), stopped on exit."""

    def __init__(self, args: list[str], probe: str, env: dict[str, str] | None = None) -> None:
        self.args, self.probe, self.env = args, probe, env
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Process:
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            self.args, env={**os.environ, **(self.env or {})}, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(Path(self.log.name).read_text())
            try:
                if httpx.get(self.probe, headers=HEADERS, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start: " + Path(self.log.name).read_text())

    def __exit__(self, *exc: Any) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


# Stores of the servers under test; run.py switches this for the Redis + PostgreSQL runs.
BACKEND: dict[str, str] = {}


def jupyter(root: Path, **traits: Any) -> tuple[ServerProcess, str]:
    """A Jupyter server with ResumeChat (the test kit's launcher); it and the API URL."""
    server = ServerProcess(root, log_level="WARN", **{**BACKEND, **traits})
    return server, server.url("")


def bare(events: int) -> tuple[Process, str]:
    """The bare tornado SSE handler (bench/bare_sse.py)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = [sys.executable, str(Path(__file__).with_name("bare_sse.py")), str(port)]
    return Process(args, url + "ping"), url
