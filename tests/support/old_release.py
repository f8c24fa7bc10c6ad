"""The previous release of this package, run beside the checkout (rolling upgrades).

``PREVIOUS`` is the last commit of the previous round.  Its package is taken
from this repository's history with ``git archive`` into a directory that a
server process puts first on ``PYTHONPATH`` (the working directory, this
checkout, kept off ``sys.path``): the old code, on the same pinned
dependencies (unchanged between the two), with the checkout's built JavaScript
copied in (the old tree has none; the server does not need it, but its widget
would).  A clone without that commit (a shallow one) skips, or fails under CI.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.services import unavailable

__all__ = ["PREVIOUS", "previous_release"]

PREVIOUS = "b480968"
_REPO = Path(__file__).resolve().parents[2]


def previous_release(into: Path) -> dict[str, str]:
    """Extract the previous release into ``into``; the environment that runs it."""
    if not (into / "jupyter_resumechat").is_dir():
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(_REPO), "archive", "--format=tar", PREVIOUS, "jupyter_resumechat"],
            capture_output=True,
        )
        if archive.returncode != 0:
            unavailable(f"commit {PREVIOUS} is not in this clone: {archive.stderr.decode()[:200]}")
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
        for built in ("widget/static", "labextension"):
            source = _REPO / "jupyter_resumechat" / built
            if source.is_dir():
                shutil.copytree(source, into / "jupyter_resumechat" / built, dirs_exist_ok=True)
    # PYTHONSAFEPATH: the working directory (a checkout) must not come before it
    env = {"PYTHONPATH": str(into), "PYTHONSAFEPATH": "1"}
    found = subprocess.run(
        [sys.executable, "-c", "import jupyter_resumechat; print(jupyter_resumechat.__file__)"],
        capture_output=True,
        text=True,
        env={**_environ(), **env},
    )
    assert found.stdout.startswith(str(into)), f"the old release does not come first: {found}"
    return env


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
