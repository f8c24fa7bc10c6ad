"""The README is a guide first: what it is, a screenshot, then install, run and
test as three copy-pasteable commands, in that order, on its first screen."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
FIRST_SCREEN = 40  # lines: what a reader sees before scrolling


def test_the_first_screen_is_what_it_is_a_screenshot_install_run_test() -> None:
    lines = README.read_text().splitlines()
    top = "\n".join(lines[:FIRST_SCREEN])
    steps = [
        "docs/panel-",  # the screenshot
        "python -m venv .venv",  # install: a venv first, then the pinned set
        '-m pip install -e ".[test]" -c constraints.txt',
        "jupyter lab notebooks/quickstart.ipynb",  # run
        "python -m pytest",  # test
    ]
    at = [top.find(step) for step in steps]
    assert -1 not in at, f"missing from the first {FIRST_SCREEN} lines: {steps[at.index(-1)]}"
    assert at == sorted(at), "not in the order: screenshot, install, run, test"
    assert "## Configuration" not in top, "reference before the guide"
