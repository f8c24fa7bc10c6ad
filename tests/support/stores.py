"""Stores instrumented for tests and benchmarks (part of the test kit)."""

from __future__ import annotations

from collections.abc import Iterable

from jupyter_resumechat.store import MessageStore

__all__ = ["CountingStore"]


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
