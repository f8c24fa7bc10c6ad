"""Shared fixtures: a real Jupyter server with the extension, and an HTTP client.

``--measure``: the tests marked ``measure`` run at their full measuring size;
without it (the README's ``python -m pytest``, and so CI) each runs in a smaller
smoke form that checks the same things, so none is skipped.
"""

from __future__ import annotations

from typing import Any

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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Every browser module on one worker, the rest beside it (tests/support/schedule.py);
    xdist's own scheduler for any other ``--dist`` asked for."""
    if config.getoption("dist") not in ("load", "loadfile"):
        return None
    from tests.support.schedule import BrowserApart

    return BrowserApart(config, log)


@pytest.fixture(scope="session")
def measure(request: pytest.FixtureRequest) -> bool:
    """True with ``--measure``: a ``measure`` test picks its full size, else its smoke size."""
    return bool(request.config.getoption("--measure"))
