"""The environment variables the server exports and kernels read.

A leaf: the extension (which sets them) and the client's discovery (which
reads them) both import these names from here, so the server never imports
the client (or httpx).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["TOKEN_VAR", "URL_VAR", "export_location"]

URL_VAR = "JUPYTER_RESUMECHAT_URL"
"""The server's URL with its base URL, set by the extension at start."""

TOKEN_VAR = "JUPYTER_RESUMECHAT_TOKEN"
"""The server's token, when it has one."""


def export_location(app: Any) -> None:
    """Put the URL and token of ``app`` (a ServerApp) in this process's environment:
    kernels inherit it (and keep it across restarts), so ``Client.from_kernel()``
    needs no setup.  Nothing for a server on a UNIX socket."""
    if app is None or app.sock:
        return
    host = app.ip if app.ip not in {"", "0.0.0.0", "::", "*", "localhost"} else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if app.certfile else "http"
    os.environ[URL_VAR] = f"{scheme}://{host}:{app.port}{app.base_url}"
    token = getattr(app.identity_provider, "token", "")
    if token:
        os.environ[TOKEN_VAR] = token
