"""A real HTTP proxy in front of the benchmark's servers: Debian's nginx, as a
deployment puts one before two Jupyter servers (issue 22 item 3).

Round robin over the servers, event streams unbuffered (``proxy_buffering
off``), keep-alive to the servers, and a request a dead server refuses
retried on the other (nginx's default ``proxy_next_upstream``).  Started in
the foreground in a process of its own, stopped on exit.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.server_process import free_port

__all__ = ["NGINX", "Nginx"]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  upstream jupyter {{
{servers}
    keepalive 256;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://jupyter;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout 3600s;
    }}
  }}
}}
"""


class Nginx:
    """nginx on a free port, round robin over ``upstreams`` (``host:port`` each)."""

    def __init__(self, root: Path, upstreams: list[str]) -> None:
        self.root, self.upstreams = root, upstreams
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.root.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"    server {u} max_fails=0;" for u in self.upstreams)
        conf = self.root / "nginx.conf"
        conf.write_text(CONFIG.format(root=self.root, servers=servers, port=self.port))
        log = (self.root / "nginx.out").open("wb")
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.root), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nginx did not start: " + (self.root / "nginx.out").read_text())
            try:
                httpx.get(self.base, timeout=1)  # any answer: it listens
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start in 30 s")

    def __exit__(self, *exc: Any) -> None:
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid
