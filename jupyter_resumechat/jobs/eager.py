"""Run a coroutine at once, and in a task only if it has to wait.

A job's append must not be cut in half by a stop, so it runs shielded in a
task of its own.  But appends usually finish without waiting (the memory
store, the coalescing Redis store), and a task per piece costs a loop turn
per piece: the generation then yields to its readers after every piece, and
each reader wakes and flushes for one event.  ``start`` runs the coroutine
up to its first wait; only a coroutine that does wait goes on in a task
(what Python 3.12's eager tasks do).
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start"]

T = TypeVar("T")


def start(coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
    """A future of ``coro``'s result: already done if it never waited."""
    loop = asyncio.get_running_loop()
    try:
        waiting = coro.send(None)
    except StopIteration as done:
        future: asyncio.Future[T] = loop.create_future()
        future.set_result(done.value)
        return future
    except Exception as exc:  # handed to the caller through the future
        failed: asyncio.Future[T] = loop.create_future()
        failed.set_exception(exc)
        return failed
    return asyncio.ensure_future(_finish(coro, waiting))


async def _finish(coro: Coroutine[Any, Any, T], waiting: Any) -> T:
    return await _drive(coro, waiting)


@types.coroutine
def _drive(coro: Coroutine[Any, Any, T], waiting: Any) -> Generator[Any, Any, T]:
    """Go on driving ``coro`` from the future it is waiting for, in the task's place."""
    while True:
        try:
            try:
                sent = yield waiting
            except BaseException as exc:  # a cancel or an error thrown in goes on to coro
                waiting = coro.throw(exc)
            else:
                waiting = coro.send(sent)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
