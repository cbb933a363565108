"""Prometheus metrics of call control (module-level: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter

CALLS_ADOPTED = Counter(
    "vocals_calls_adopted_total", "Calls of a dead process finished by this process."
)
# Calls that end before their number's tenant is known have no record (a record needs a
# tenant): this count, and a log line with the dialled number, are all that is left of them.
INBOUND_UNROUTED = Counter(
    "vocals_inbound_calls_unrouted_total",
    "Inbound calls ended before their number was resolved to an agent, by reason.",
    ["reason"],
)
