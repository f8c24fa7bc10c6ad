"""A host clock running off by some seconds, for one server process (libfaketime).

Debian's ``faketime`` package puts ``libfaketime.so.1`` here; it shifts
``time.time()`` (``clock_gettime(CLOCK_REALTIME)``) of the process it is
preloaded into, and leaves the monotonic clock alone so the event loop ticks
as usual.  Missing, the test skips (or fails under ``CI=true``).
"""

from __future__ import annotations

import glob

from tests.support.services import unavailable

_LIBRARY = "/usr/lib/*/faketime/libfaketime.so.1"


def skewed_env(seconds: int) -> dict[str, str]:
    """The environment that makes a process's wall clock run ``seconds`` off."""
    found = glob.glob(_LIBRARY)
    if not found:
        unavailable("libfaketime is not installed (apt-get install faketime)")
    return {
        "LD_PRELOAD": found[0],
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
