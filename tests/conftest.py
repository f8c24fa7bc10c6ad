"""Shared fixtures: a real Jupyter server with the extension, and an HTTP client.

``--measure``: the tests marked ``measure`` run at their full measuring size;
without it (the README's ``python -m pytest``, and so CI) each runs in a smaller
smoke form that checks the same things, so none is skipped.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "tests.support.services",  # before fixtures, which imports it (assertion rewriting)
    "tests.support.fixtures",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--measure",
        action="store_true",
        default=False,
        help="run the tests marked 'measure' at their full measuring size (default: their smoke form)",
    )


@pytest.fixture(scope="session")
def measure(request: pytest.FixtureRequest) -> bool:
    """True with ``--measure``: a ``measure`` test picks its full size, else its smoke size."""
    return bool(request.config.getoption("--measure"))
