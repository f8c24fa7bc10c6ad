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


# Modules handed out first (the longest: a browser module runs 1-6 min, the benchmark smoke
# run 2.5); with two workers the short unit tests then fill the end instead of one worker
# finishing a browser module alone. An order only: every module still runs.
FIRST = (
    "tests/browser/",
    "tests/test_bench_smoke.py",
    "tests/integration/test_agent_faults.py",
    "tests/integration/test_cross_version.py",
    "tests/test_labextension.py",
    "tests/test_gates.py",
)


def _rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((i for i, prefix in enumerate(FIRST) if path.startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first (a stable sort: each module's tests stay together, in order)."""
    items.sort(key=_rank)


@pytest.fixture(scope="session")
def measure(request: pytest.FixtureRequest) -> bool:
    """True with ``--measure``: a ``measure`` test picks its full size, else its smoke size."""
    return bool(request.config.getoption("--measure"))
