"""Real, distinct identities for the isolation tests: a token per user.

jupyter_server gives every token-authenticated request a fresh anonymous
user, so isolation needs an identity provider that knows who is who, as
JupyterHub's does. This one maps a few fixed tokens to user names.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


class TokenPerUser(IdentityProvider):
    def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        header = handler.request.headers.get("Authorization", "")
        name = TOKENS.get(header.removeprefix("token ").strip())
        if not name:
            return None
        handler._token_authenticated = True  # as jupyter_server's token auth: no XSRF for tokens
        return User(name)
