"""A private ``redis-server`` of one test's own, to kill, restart and freeze.

Never the shared Redis of the other tests: this one listens on a free port,
keeps nothing on disk (``--save '' --appendonly no``) and is always stopped
(continued first if frozen) when its fixture ends, whatever the outcome.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .server_process import free_port
from .services import unavailable

REDIS_SERVER = (
    os.environ.get("RESUMECHAT_TEST_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
)


def _ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis answers PING on ``port`` (raw RESP: no client pool to go stale)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False
    except OSError:
        return True


class RedisServer:
    """One ``redis-server`` process on a fixed port, restartable on that port."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.starts = 0
        self.pids: list[int] = []  # every process started, to check a restart really happened

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30) -> RedisServer:
        assert not self.running(), "redis-server is already running"
        if not Path(REDIS_SERVER).exists():
            unavailable(f"{REDIS_SERVER} is not installed")
        self.starts += 1
        log = self.directory / f"redis-{self.port}-{self.starts}.log"
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(log),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ]
        deadline = time.monotonic() + timeout
        while True:  # the port may be held a moment by the process just killed
            self.proc = subprocess.Popen(
                args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.directory
            )
            self.paused = False
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _ping(self.port):
                    self.pids.append(self.proc.pid)
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING: {self.read_log()}")
            if time.monotonic() >= deadline:
                raise RuntimeError(f"redis-server on port {self.port} exited: {self.read_log()}")
            time.sleep(0.2)  # exited (port still bound?): try again on the same port

    def read_log(self) -> str:
        logs = sorted(self.directory.glob(f"redis-{self.port}-*.log"))
        return logs[-1].read_text(errors="replace") if logs else ""

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 30) -> None:
        """Stop the process (continued first if frozen) and wait until the port is free."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.paused = False
        deadline = time.monotonic() + timeout
        while not _port_closed(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """A clean stop (SIGTERM; nothing is saved)."""
        self.kill(signal.SIGTERM)

    def restart(self) -> RedisServer:
        """Kill and start again on the same port: an empty Redis, as after a crash."""
        self.kill()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the process holds its connections but answers nothing (a stall)."""
        assert self.running()
        os.kill(self.proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        self.paused = True

    def resume(self) -> None:
        if self.running() and self.paused:
            os.kill(self.proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
        self.paused = False

    def ping(self) -> bool:
        return _ping(self.port)

    def close(self) -> None:
        """Teardown: continue if frozen, then kill; never raises."""
        try:
            self.resume()
        except OSError:
            pass
        try:
            self.kill()
        except Exception:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A started private redis-server, stopped on the way out whatever happened."""
    server = RedisServer(directory)
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A started private redis-server of the test's own (use it from a module by
    importing it, or wrap ``running_redis``)."""
    with running_redis(tmp_path / "redis") as server:
        yield server
