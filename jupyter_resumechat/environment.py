"""The environment variables the server exports and kernels read.

A leaf: the extension (which sets them) and the client's discovery (which
reads them) both import these names from here, so the server never imports
the client (or httpx).
"""

from __future__ import annotations

__all__ = ["TOKEN_VAR", "URL_VAR"]

URL_VAR = "JUPYTER_RESUMECHAT_URL"
"""The server's URL with its base URL, set by the extension at start."""

TOKEN_VAR = "JUPYTER_RESUMECHAT_TOKEN"
"""The server's token, when it has one."""
