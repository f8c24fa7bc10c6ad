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


# Tests that must stay together on one xdist worker (pyproject.toml: --dist loadgroup): every
# browser test (each module shares its servers and browser, and two browser modules at once on
# two cores time out), and the cross-version module (its old release is installed once).
GROUPS = {"tests/browser/": "browser", "tests/integration/test_cross_version.py": "cross-version"}
# The other long tests, handed out first so that short ones fill the end rather than one worker
# finishing a long test alone (xdist hands out the groups first, the largest first).
FIRST = (
    "tests/test_bench_smoke.py",
    "tests/test_gates.py",
    "tests/test_labextension.py",
    "tests/integration/test_agent_faults.py",
)


def _path(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _rank(item: pytest.Item) -> int:
    return next((i for i, prefix in enumerate(FIRST) if _path(item).startswith(prefix)), len(FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the groups; the long tests first (a stable sort: each module's tests keep their order)."""
    for item in items:
        group = next((name for prefix, name in GROUPS.items() if _path(item).startswith(prefix)), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_rank)


@pytest.fixture(scope="session")
def measure(request: pytest.FixtureRequest) -> bool:
    """True with ``--measure``: a ``measure`` test picks its full size, else its smoke size."""
    return bool(request.config.getoption("--measure"))
