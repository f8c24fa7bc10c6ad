"""How the suite is spread over two xdist workers with ``-n 2`` (opt-in; the default is serial).

Every browser module runs on one worker, one after the other, and the other
worker takes every other module, each module whole on one worker. Two browser
modules at once (two JupyterLabs, two Chromiums and their kernels) overload two
cores until their waits time out; one browser module beside an integration
module does not, and the two halves take about as long.

xdist's ``--dist loadgroup`` with ``xdist_group`` marks would say the same, but
marks added at collection are not honoured by the workers (pytest-dev/pytest-xdist
#1241, #1253, #1295), so the grouping is made here, from the test's path.
"""

from __future__ import annotations

from xdist.scheduler import LoadFileScheduling

BROWSER = "tests/browser/"


class BrowserApart(LoadFileScheduling):
    """``loadfile``, with every file under ``tests/browser/`` one unit of work.

    Units go out in collection order (``--no-loadscope-reorder``, which
    pyproject.toml sets): the browser unit, the longest, first, so one worker
    starts it at once and the other works through the rest."""

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return BROWSER if path.startswith(BROWSER) else path
