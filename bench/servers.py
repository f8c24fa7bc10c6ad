"""Servers the benchmarks drive: a real Jupyter server with the extension, and
the bare tornado SSE handler that is the physical limit of this stack."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "bench-token"
HEADERS = {"Authorization": f"token {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A server in its own process (its own core), stopped on exit."""

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


def jupyter(root: Path, **traits: Any) -> tuple[Process, str]:
    """A Jupyter server with ResumeChat; returns it and the API base URL."""
    root.mkdir(parents=True, exist_ok=True)
    traits = {**BACKEND, **traits}
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--log-level=WARN",
    ]
    args += [f"--ResumeChat.{k}={v}" for k, v in traits.items()]
    env = {
        "JUPYTER_DATA_DIR": str(root / "data"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
    }
    api = f"http://127.0.0.1:{port}/resumechat/api/"
    return Process(args, api + "models", env), api


def bare(events: int) -> tuple[Process, str]:
    """The bare tornado SSE handler (bench/bare_sse.py)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    args = [sys.executable, str(Path(__file__).with_name("bare_sse.py")), str(port)]
    return Process(args, url + "ping"), url
