"""The benchmark suite runs (quick sizes) so that it cannot rot; no timing is asserted."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 1200  # seconds for the quick run on a loaded 2-core machine


@pytest.mark.timeout(BUDGET + 60)  # pytest's own limit outlasts the run's, never the reverse
def test_benchmark_suite_runs(tmp_path, redis_prefix, postgres_url) -> None:
    # its own process group: on any outcome the run and every server it started are stopped
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--out",
            str(tmp_path),
            "--postgres",
            postgres_url,
            "--redis-prefix",
            redis_prefix,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = run.communicate(timeout=BUDGET)
    finally:
        stop_group(run)
    assert run.returncode == 0, stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert set(results["scenarios"]) == {
        "B1",
        "B2",
        "B3",
        "B4",
        "B5",
        "B6",
        "B7",
        "B8",
        "B10",
        "B11",
        "B12",
        "B1-redis",
        "B3-redis",
        "B4-redis",
        "B8-redis",
        "B9-redis",
        "B13-redis",
    }
    for sid, scenario in results["scenarios"].items():
        if not scenario["rows"] and scenario.get("skipped") and os.environ.get("CI") != "true":
            continue  # B12 without chromium, B13 without nginx: CI installs both, and runs them
        assert scenario["rows"] and all(row["runs"] >= 1 for row in scenario["rows"]), (sid, scenario)
    assert "| B1 |" in (tmp_path / "latest.md").read_text()


def stop_group(run: subprocess.Popen[str]) -> None:
    """Kill whatever is left in the run's process group (its servers too), then reap it."""
    try:
        os.killpg(run.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    run.wait()
