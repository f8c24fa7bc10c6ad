"""Stores instrumented for tests and benchmarks (part of the test kit)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from jupyter_resumechat.jobs.tasks import TaskGroup
from jupyter_resumechat.store import MessageStore
from jupyter_resumechat.streams import StreamStore

__all__ = ["CountingStore", "owned"]

S = TypeVar("S", bound=StreamStore)


def owned(store: S) -> S:
    """A StreamStore used without a JobManager, owned as the manager owns it: its
    loops run in a TaskGroup, and its ``close`` first stops and awaits them.
    Call inside the test's event loop."""
    group = TaskGroup()
    for loop in store.loops():
        group.start(loop)
    close = store.close

    async def close_owned() -> None:
        await group.stop(timeout=5)
        await close()

    store.close = close_owned  # type: ignore[method-assign]
    return store


class CountingStore(MessageStore):
    """Counts checkpoint transactions and the rows and replies they carried."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.transactions = 0
        self.rows_written = 0
        self.saved: set[str] = set()

    async def checkpoint(self, partials: Iterable[tuple[str, str, str]]) -> set[str]:
        partials = list(partials)
        failed = await super().checkpoint(partials)
        if partials:
            self.transactions += 1
            self.rows_written += len(partials)
            self.saved |= {message_id for message_id, _, _ in partials} - failed
        return failed
