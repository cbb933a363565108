"""Supervised background tasks restart after failures and report their state;
`cancel_and_wait` ends a task even when a cancellation is lost on the way."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from ari_app.tasks import Backoff, cancel_and_wait, supervise, task_states


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


def _restarts(name: str) -> float | None:
    return REGISTRY.get_sample_value("vocals_background_task_restarts_total", {"task": name})


async def test_a_failing_task_is_restarted_and_its_state_reported() -> None:
    runs = 0
    third_run = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise ConnectionError(f"down {runs}")
        third_run.set()
        await asyncio.Event().wait()

    name = "flaky-test-task"
    before = _restarts(name) or 0.0
    fast = Backoff(initial_s=0.01, max_s=0.02)
    task = asyncio.create_task(supervise(name, flaky, backoff=fast))
    async with asyncio.timeout(5):
        await third_run.wait()
    state = task_states()[name]
    assert (state.state, state.restarts) == ("running", 2)
    assert state.last_error == "ConnectionError: down 2"
    assert _restarts(name) == before + 2
    assert REGISTRY.get_sample_value("vocals_background_task_running", {"task": name}) == 1
    await cancel_and_wait(task)
    assert name not in task_states()


async def test_a_task_waiting_to_restart_says_so() -> None:
    failed = asyncio.Event()

    async def fails() -> None:
        failed.set()
        raise RuntimeError("broken")

    name = "failing-test-task"
    task = asyncio.create_task(supervise(name, fails, backoff=Backoff(initial_s=60, max_s=60)))
    async with asyncio.timeout(5):
        await failed.wait()
    # The supervisor handled the failure before the waiter resumed: nothing ran in between.
    assert task_states()[name].state == "restarting"
    assert REGISTRY.get_sample_value("vocals_background_task_running", {"task": name}) == 0
    await cancel_and_wait(task)


async def test_a_task_that_returns_is_not_restarted() -> None:
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1

    await asyncio.wait_for(supervise("one-shot-test-task", once), 5)
    assert runs == 1 and "one-shot-test-task" not in task_states()
