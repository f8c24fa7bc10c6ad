"""TaskGroup: the JobManager's long-lived tasks, owned in one place.

Every ``Loop`` a part offers (the supervisor, a store's loops; next, the MCP
clients) is started here, kept by a strong reference (the event loop keeps
only weak ones), and at ``stop`` asked to end, awaited, and cancelled when it
does not end in time.  A loop that ends by an error is logged once.
"""

from __future__ import annotations

import asyncio
import logging

from ..background import Loop

__all__ = ["TaskGroup"]

log = logging.getLogger("jupyter_resumechat.jobs")


class TaskGroup:
    """Runs loops from ``start`` until ``stop``."""

    def __init__(self) -> None:
        self._running: list[tuple[Loop, asyncio.Task[None]]] = []

    @property
    def names(self) -> list[str]:
        """The loops running now, by name."""
        return [loop.name for loop, task in self._running if not task.done()]

    def tasks(self) -> list[asyncio.Task[None]]:
        return [task for _, task in self._running]

    def start(self, loop: Loop) -> None:
        task = asyncio.get_running_loop().create_task(loop.run(), name=loop.name)
        task.add_done_callback(_log_failure)
        self._running.append((loop, task))

    async def stop(self, timeout: float) -> None:
        """Ask every loop to end, wait ``timeout`` s, cancel the rest and await them."""
        running, self._running = self._running, []
        for loop, _ in running:
            loop.stop()
        tasks = {task for _, task in running}
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            log.warning("resumechat: %s did not stop in time; cancelling it", task.get_name())
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)  # a cancel redis-py swallows must not hang the stop


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("resumechat: %s ended by an error", task.get_name(), exc_info=task.exception())
