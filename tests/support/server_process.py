"""A real ``jupyter server`` process with the extension: the one launcher of the
test kit, used by the crash, restart and fault tests and by the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

TOKEN = "resumechat-test-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """Start, kill and restart a Jupyter server sharing one data directory."""

    def __init__(
        self,
        root: Path,
        *,
        app: str = "jupyter_server",
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_level: str = "INFO",
        ready: tuple[int, ...] = (200,),
        **traits: Any,
    ) -> None:
        self.root = root
        self.ready = ready  # the statuses of GET models that mean "started" (503: started, refusing)
        self.app, self.extra, self.env = app, extra or [], env or {}
        self.log_level = log_level
        self.traits = traits
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.base = f"http://127.0.0.1:{self.port}/"
        self.headers = {"Authorization": f"token {TOKEN}"}

    def url(self, path: str) -> str:
        return f"{self.base}resumechat/api/{path}"

    def start(self) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            self.app,
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={self.root}",
            f"--log-level={self.log_level}",
        ]
        args += [f"--ResumeChat.{name}={value}" for name, value in self.traits.items()]
        args += self.extra
        env = {
            **os.environ,
            **self.env,
            "JUPYTER_DATA_DIR": str(self.root / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.root / "runtime"),
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
        }
        self.root.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.log = open(self.root / f"server-{self.port}-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # no orphan server, no open log, whatever went wrong
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 120  # a loaded 2-core machine can be this slow
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.read_log()}")
            try:
                if httpx.get(self.url("models"), headers=self.headers, timeout=1).status_code in self.ready:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.read_log()}")

    def read_log(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGKILL)
        if getattr(self, "log", None) is not None and not self.log.closed:
            self.log.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """A clean stop (SIGTERM), or a kill if it does not come."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.kill(signal.SIGTERM, timeout=20)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
