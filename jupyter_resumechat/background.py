"""Loop: a long-lived loop a part needs, run by the part's owner.

Only the JobManager creates long-lived tasks (STYLE §5).  A part that needs
one (the Redis batcher's flusher, the shared ``XREAD``, the abort channel;
next, the MCP clients) offers a ``Loop`` and never starts a task itself; the
manager's ``TaskGroup`` (``jobs/tasks.py``) runs it from ``start`` to ``stop``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

__all__ = ["Loop"]


@dataclass(frozen=True)
class Loop:
    """``run`` loops until ``stop`` is called, then returns soon.

    Loops end cooperatively: a cancel landing inside a redis-py call can be
    swallowed, so the owner asks first and cancels only what did not end.
    """

    name: str  # the task's name, for logs and for tests
    run: Callable[[], Coroutine[Any, Any, None]]
    stop: Callable[[], None]
