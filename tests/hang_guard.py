"""A test that hangs fails with its asyncio tasks' stacks instead of stalling the whole run.

pytest-timeout's thread method can only show the event loop waiting in select(): what hangs
in an asyncio suite is a task. So on timeout this prints every task's stack into the test's
report, cancels the test's own task and lets the run go on. A loop too blocked to answer, or a
test still not done a grace period after its cancel, gets pytest-timeout's own treatment:
thread stacks, and the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_timeout

# How long a busy loop gets to run the dump; longer means the loop itself is blocked.
LOOP_ANSWER_S = 5.0
# After its cancel a test's teardown must finish within this, or the run ends.
AFTER_CANCEL_S = 60.0

_loop: asyncio.AbstractEventLoop | None = None
_TIMER = pytest.StashKey[threading.Timer]()


@pytest.fixture(scope="session", autouse=True)
async def _remember_session_loop() -> AsyncIterator[None]:
    global _loop
    _loop = asyncio.get_running_loop()
    yield
    _loop = None


@pytest.hookimpl
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    if settings.method != "thread":
        return None
    _arm(item, settings.timeout, lambda: _on_timeout(item, settings))
    return True


@pytest.hookimpl
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    timer = item.stash.get(_TIMER, None)
    if timer is None:
        return None
    timer.cancel()
    del item.stash[_TIMER]
    return True


def _arm(item: pytest.Item, after_s: float, action: Any) -> None:
    timer = threading.Timer(after_s, action)
    timer.daemon = True
    item.stash[_TIMER] = timer
    timer.start()


def _on_timeout(item: pytest.Item, settings: Any) -> None:
    loop = _loop
    answered = threading.Event()

    def dump_and_cancel() -> None:
        out = io.StringIO()
        test_name = getattr(getattr(item, "function", None), "__name__", item.name)
        tasks = asyncio.all_tasks()
        for task in tasks:  # every stack first: a cancel changes what the awaited tasks show
            task.print_stack(file=out)
        for task in tasks:
            if getattr(task.get_coro(), "__name__", None) == test_name:
                task.cancel(f"timed out after {settings.timeout} s")
        dump = out.getvalue()
        item.add_report_section("call", "asyncio tasks at the timeout", dump)
        # Also straight to the terminal: if the teardown hangs too, the run ends before any
        # report is written.
        capture = item.config.pluginmanager.getplugin("capturemanager")
        writer = item.config.get_terminal_writer()
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            writer.line(f"\n{item.nodeid} timed out; its asyncio tasks:\n{dump}")
            writer.flush()
        answered.set()

    if loop is not None and loop.is_running():
        loop.call_soon_threadsafe(dump_and_cancel)
        if answered.wait(LOOP_ANSWER_S):
            _arm(item, AFTER_CANCEL_S, lambda: pytest_timeout.timeout_timer(item, settings))
            return
    pytest_timeout.timeout_timer(item, settings)
