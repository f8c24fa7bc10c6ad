"""The benchmark suite: ``python -m bench.run [--quick]``.

Starts real servers on loopback, drives them with real HTTP clients in this
process, and writes ``bench/results/latest.md`` and ``latest.json``.  Every
figure is the median of repeated runs with min and max; ratios compare with
a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import scenarios, servers

RESULTS = Path(__file__).with_name("results")


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def repeat(times: int, measure: Callable[[], float]) -> dict[str, float]:
    return summary([measure() for _ in range(times)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each (smoke)")
    parser.add_argument("--only", default="", help="comma-separated scenario ids, e.g. B1,B4")
    parser.add_argument("--out", default=str(RESULTS), help="where latest.md/json go")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        help="Redis for the shared-store runs of B1 and B4 ('' to skip them)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="PostgreSQL for the shared-store runs",
    )
    parser.add_argument("--redis-prefix", default="", help="key prefix (default: a fresh one per run)")
    args = parser.parse_args()
    chosen = {s.strip().upper() for s in args.only.split(",") if s.strip()}
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "quick": args.quick,
        "scenarios": {},
    }
    with tempfile.TemporaryDirectory(prefix="resumechat-bench-") as tmp:
        for scenario in scenarios.ALL:
            if chosen and scenario.id not in chosen:
                continue
            print(f"{scenario.id}: {scenario.title}", file=sys.stderr, flush=True)
            results["scenarios"][scenario.id] = scenario.run(Path(tmp), args.quick)
        if args.redis:
            servers.BACKEND.update(
                stream_backend=args.redis,
                db_url=args.postgres,
                redis_prefix=args.redis_prefix or f"bench:{time.time_ns()}:",
            )
            for scenario in scenarios.SHARED:
                if chosen and scenario.id.split("-")[0] not in chosen:
                    continue
                print(f"{scenario.id}: {scenario.title}", file=sys.stderr, flush=True)
                results["scenarios"][scenario.id] = scenario.run(Path(tmp), args.quick)
            servers.BACKEND.clear()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1))
    (out / "latest.md").write_text(scenarios.render(results))
    print((out / "latest.md").read_text())


if __name__ == "__main__":
    main()
