"""Overload on /metrics and in the log: event-loop lag, capacity, refused calls."""

from __future__ import annotations

import asyncio
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from api.app import create_app
from api.context import ApiContext
from ari_app.admission import Admission
from tests.api.conftest import client_for
from vocals.capacity import export_admission, export_loop_lag
from vocals.loop_lag import LoopLagMonitor

BLOCK_S = 0.1
# The loop's clock ticks in milliseconds (uvloop).
CLOCK_S = 0.001


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_blocked_loop_shows_as_lag_on_metrics_and_one_log_line(
    api_context: ApiContext,
) -> None:
    monitor = LoopLagMonitor()
    export_loop_lag(monitor)
    admission = Admission(2, 1)
    export_admission(admission)
    assert admission.admit(uuid.uuid4(), local=True) is None
    assert admission.admit(uuid.uuid4(), local=True) is not None  # local calls full
    assert admission.admit(uuid.uuid4(), local=False) is None
    assert admission.admit(uuid.uuid4(), local=False) is not None  # all calls full
    monitor.start()  # its task runs first, up to its timer, before the hog's

    async def hog() -> None:
        # CPU work on the loop's thread, as a model run on it would be.
        time.sleep(BLOCK_S)  # noqa: ASYNC251

    try:
        with capture_logs() as logs:
            await asyncio.create_task(hog())
            async with asyncio.timeout(2):  # the next ticks see the stall, then its end
                # The monitor offers no event: its state is polled, bounded.
                while not monitor.episodes or monitor.lag_s >= monitor.threshold_s:  # noqa: ASYNC110
                    await asyncio.sleep(monitor.tick_s)
        async with client_for(create_app(api_context)) as client:
            text = (await client.get("/metrics")).text
    finally:
        await monitor.stop()
    # The stall began at most one monitor tick before the timer was due.
    least_s = BLOCK_S - monitor.tick_s - CLOCK_S
    found = samples(text)
    assert found[("vocals_event_loop_lag_max_seconds", ())] >= least_s
    assert found[("vocals_event_loop_lag_seconds", ())] < BLOCK_S / 2
    assert found[("vocals_max_calls", ())] == 2
    assert found[("vocals_max_local_calls", ())] == 1
    assert found[("vocals_live_calls", ())] == 2
    assert found[("vocals_live_local_calls", ())] == 1
    assert found[("vocals_calls_refused_total", (("limit", "calls"),))] == 1
    assert found[("vocals_calls_refused_total", (("limit", "local_calls"),))] == 1
    lagging = [e for e in logs if e["event"].startswith("event loop lagging")]
    assert len(lagging) == 1 and lagging[0]["lag_ms"] >= least_s * 1000
