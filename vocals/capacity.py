"""This process's capacity from its settings, and its overload figures on /metrics."""

from __future__ import annotations

from ari_app.admission import Admission, default_max_calls, default_max_local_calls
from providers.local import shared as local_models
from vocals.gauges import GAUGES
from vocals.gc_freeze import frozen_objects
from vocals.loop_lag import WINDOW_S, LoopLagMonitor
from vocals.settings import Settings


def admission_for(settings: Settings) -> Admission:
    """VOCALS_MAX_CALLS and VOCALS_MAX_LOCAL_CALLS, else the measured defaults."""
    return Admission(
        settings.max_calls or default_max_calls(),
        settings.max_local_calls or default_max_local_calls(),
    )


def export_admission(admission: Admission) -> None:
    GAUGES.gauge("vocals_live_calls", "Calls this process carries now.", lambda: admission.live)
    GAUGES.gauge(
        "vocals_live_local_calls",
        "Calls on local models (offline recognizer or voice) this process carries now, each by"
        " its weight (1; 2.5 with PocketSphinx).",
        lambda: admission.live_local,
    )
    GAUGES.gauge(
        "vocals_max_calls", "Calls this process admits at most.", lambda: admission.max_calls
    )
    GAUGES.gauge(
        "vocals_max_local_calls",
        "Calls on local models this process admits at most, by the same weights.",
        lambda: admission.max_local_calls,
    )
    GAUGES.counter(
        "vocals_calls_refused",
        "Calls refused (not answered, not dialled) by the limit that was reached.",
        "limit",
        lambda: admission.refused,
    )


def export_loop_lag(monitor: LoopLagMonitor) -> None:
    GAUGES.gauge(
        "vocals_event_loop_lag_seconds",
        "How late the event loop's last timer tick fired.",
        lambda: monitor.lag_s,
    )
    GAUGES.gauge(
        "vocals_event_loop_lag_max_seconds",
        f"The highest event-loop lag over the last {WINDOW_S:g} seconds.",
        lambda: monitor.max_lag_s,
    )
    GAUGES.gauge(
        "vocals_gc_frozen_objects",
        "Start-up objects kept out of the garbage collector's full passes (0: none frozen).",
        frozen_objects,
    )
    GAUGES.counter(
        "vocals_event_loop_stalls",
        "Episodes of event-loop lag over the threshold (each logged once).",
        "threshold",
        lambda: {f"{monitor.threshold_s:g}s": monitor.episodes},
    )


def export_local_models() -> None:
    """The local-model worker pool's load, zero while no pool runs."""

    def read(field: str) -> float:
        stats = local_models.stats()
        return 0.0 if stats is None else float(getattr(stats, field))

    GAUGES.gauge(
        "vocals_local_model_queue_depth",
        "Requests waiting for or running on a local-model worker.",
        lambda: read("queued"),
    )
    GAUGES.gauge(
        "vocals_local_model_workers_busy",
        "Local-model workers with work in hand.",
        lambda: read("busy"),
    )
    GAUGES.gauge(
        "vocals_local_model_cpu_seconds",
        "CPU seconds the local-model workers have used.",
        lambda: read("cpu_seconds"),
    )
