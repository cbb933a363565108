"""`cancel_and_wait` ends a task even when a cancellation is lost on the way."""

from __future__ import annotations

import asyncio

import pytest

from ari_app.tasks import cancel_and_wait


async def test_a_cancellation_lost_in_wait_for_is_repeated() -> None:
    """Python 3.11's `wait_for` drops a cancellation that lands as its inner call completes,
    as redis-py's command send does; the task then runs on."""
    inner = asyncio.get_running_loop().create_future()
    ran_on = asyncio.Event()

    async def polls_redis() -> None:
        await asyncio.wait_for(inner, 5)
        ran_on.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(polls_redis())
    await asyncio.sleep(0)
    inner.set_result(None)
    async with asyncio.timeout(2):
        await cancel_and_wait(task)  # its first cancel lands in the same loop iteration
    assert task.cancelled()


async def test_a_task_that_shrugs_off_cancels_is_cancelled_again() -> None:
    shrugged = 0

    async def stubborn() -> None:
        nonlocal shrugged
        while shrugged < 3:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                shrugged += 1
        await asyncio.sleep(10)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(2):
        await cancel_and_wait(task)
    assert task.cancelled() and shrugged == 3


async def test_the_callers_own_cancellation_reaches_the_caller() -> None:
    release = asyncio.Event()

    async def unkillable() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(unkillable())
    stopper = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0.3)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    release.set()
    await task


async def test_what_the_task_failed_with_is_raised() -> None:
    async def fails_when_cancelled() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ValueError("cleanup failed") from None

    task = asyncio.create_task(fails_when_cancelled())
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="cleanup failed"):
        await cancel_and_wait(task)
