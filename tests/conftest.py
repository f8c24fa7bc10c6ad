"""Shared fixtures: a real Jupyter server with the extension, and an HTTP client."""

from __future__ import annotations

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "tests.support.fixtures",
    "tests.support.services",
]
