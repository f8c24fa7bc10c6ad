"""The benchmark suite runs (quick sizes) so that it cannot rot; no timing is asserted."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_suite_runs(tmp_path, redis_prefix, postgres_url) -> None:
    result = subprocess.run(
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
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert set(results["scenarios"]) == {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B1-redis", "B4-redis"}
    for scenario in results["scenarios"].values():
        assert scenario["rows"] and all(row["runs"] >= 1 for row in scenario["rows"])
    assert "| B1 |" in (tmp_path / "latest.md").read_text()
