"""The quality gates, run by the README's test command so CI runs them too.

mypy --strict and ruff on the Python, tsc --checkJs --strict and node's own
test runner on the panel's JavaScript.  A missing tool skips on a developer
machine and fails under CI=true (tests/support/services.unavailable).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TREES = ["jupyter_resumechat", "tests", "bench", "docs"]


def run(args: list[str], timeout: float = 240) -> None:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"


def module(name: str) -> list[str]:
    try:
        __import__(name)
    except ImportError:
        unavailable(f"{name} is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", name]


@pytest.mark.timeout(300)
def test_mypy_strict_on_the_package() -> None:
    run([*module("mypy"), "--strict", "jupyter_resumechat"])


def test_ruff_lint() -> None:
    run([*module("ruff"), "check", *PYTHON_TREES])


def test_ruff_format() -> None:
    run([*module("ruff"), "format", "--check", *PYTHON_TREES])


def node_tool(name: str) -> str:
    tool = ROOT / "node_modules" / ".bin" / name
    if not tool.exists() or shutil.which("node") is None:
        unavailable(f"{name} is not installed: node and `npm install` (pip install -e . runs it)")
    return str(tool)


def test_tsc_check_js_strict() -> None:
    run([node_tool("tsc"), "-p", "tsconfig.json"])


def test_node_unit_tests() -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    run([node, "--test", "js/"], timeout=120)
