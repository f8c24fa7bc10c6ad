"""``jobs.eager.start``: inline when the coroutine never waits, a task when it does."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_resumechat.jobs import eager


async def test_a_coroutine_that_never_waits_is_done_at_once():
    async def quick() -> int:
        return 7

    future = eager.start(quick())
    assert future.done() and future.result() == 7


async def test_an_error_before_any_wait_is_in_the_future():
    async def broken() -> None:
        raise ValueError("no")

    future = eager.start(broken())
    assert future.done()
    with pytest.raises(ValueError):
        future.result()


async def test_a_coroutine_that_waits_goes_on_in_a_task():
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def slow() -> str:
        steps.append("before")
        got = await gate
        steps.append(got)
        await asyncio.sleep(0)
        return got + "!"

    future = eager.start(slow())
    assert steps == ["before"] and not future.done()
    gate.set_result("after")
    assert await future == "after!"
    assert steps == ["before", "after"]


async def test_a_cancel_reaches_the_coroutine_where_it_waits():
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def waits() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    future = eager.start(waits())
    await asyncio.sleep(0)
    future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await future
    assert seen == ["cancelled inside"]
