"""The panel's JavaScript unit tests (state machine, SSE parsing), run with node."""

import shutil
import subprocess
from pathlib import Path

from tests.support.services import unavailable

ROOT = Path(__file__).resolve().parents[2]


def test_node_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not installed")
    result = subprocess.run([node, "--test", "js/"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
