"""Finding the Jupyter server from inside one of its kernels, or nearby.

In order, the first that answers wins:

1. ``JUPYTER_RESUMECHAT_URL`` (+ ``JUPYTER_RESUMECHAT_TOKEN``): the extension
   exports both into the server's environment when it starts, so every kernel
   (and every restart of it) inherits them. Users may set them by hand too.
2. ``JPY_PARENT_PID``: the server that started this kernel; its
   ``jpserver-<pid>.json`` in the Jupyter runtime directory has URL and token.
3. JupyterHub: ``JUPYTERHUB_SERVICE_URL`` and ``JUPYTERHUB_API_TOKEN``, which
   the single-user server passes to its kernels.
4. Exactly one running server in the runtime directory.

``find_server`` is pure (environment and server list are passed in), so each
rule is tested with plain data.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..environment import TOKEN_VAR, URL_VAR
from ..errors import DiscoveryError

__all__ = ["ServerInfo", "discover", "find_server"]


@dataclass(frozen=True)
class ServerInfo:
    """Where a Jupyter server is and how to authenticate to it."""

    url: str  # with the base URL, ending in "/"
    token: str
    source: str  # which rule found it

    @property
    def api(self) -> str:
        return self.url + "resumechat/api/"


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _local(url: str) -> str:
    """Servers listening on every interface are reached on loopback."""
    for wildcard in ("://0.0.0.0:", "://[::]:", "://:"):
        url = url.replace(wildcard, "://127.0.0.1:")
    return url


def find_server(env: Mapping[str, str], servers: Iterable[Mapping[str, Any]]) -> ServerInfo:
    """Apply the rules of the module docstring to ``env`` and ``servers``."""
    if env.get(URL_VAR):
        return ServerInfo(_slash(env[URL_VAR]), env.get(TOKEN_VAR, ""), URL_VAR)
    running = list(servers)
    parent = env.get("JPY_PARENT_PID")
    if parent:
        for server in running:
            if str(server.get("pid")) == parent:
                token = server.get("token") or env.get("JUPYTERHUB_API_TOKEN", "")
                return ServerInfo(_local(_slash(server["url"])), token, f"jpserver-{parent}.json")
    if env.get("JUPYTERHUB_SERVICE_URL") and env.get("JUPYTERHUB_API_TOKEN"):
        return ServerInfo(
            _local(_slash(env["JUPYTERHUB_SERVICE_URL"])), env["JUPYTERHUB_API_TOKEN"], "JupyterHub"
        )
    if len(running) == 1:
        server = running[0]
        return ServerInfo(_local(_slash(server["url"])), server.get("token", ""), "only running server")
    found = f"{len(running)} running servers" if running else "no running server"
    raise DiscoveryError(
        f"cannot tell which Jupyter server to use ({found}, not inside a kernel started by one). "
        f"Set {URL_VAR} (e.g. http://127.0.0.1:8888/) and {TOKEN_VAR}, or pass url= and token= to Client."
    )


def _running_servers() -> list[dict[str, Any]]:
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # pragma: no cover - jupyter_server is a dependency
        return []
    return list(list_running_servers())


def discover(env: Mapping[str, str] | None = None) -> ServerInfo:
    """Find the server for this process (see the module docstring)."""
    env = os.environ if env is None else env
    if env.get(URL_VAR):
        return find_server(env, [])
    return find_server(env, _running_servers())
