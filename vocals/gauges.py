"""Process gauges read when `/metrics` is scraped, from callbacks the parts that own the
figures register: live calls and capacity (admission), event-loop lag, worker queue depth.

A part adds its figure with one line, e.g.
`GAUGES.gauge("vocals_worker_queue_depth", "Jobs waiting for a model worker.", pool.depth)`;
registering a name again replaces its callback (a restarted part, or a test's second process).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

Read = Callable[[], float]
ReadLabelled = Callable[[], Mapping[str, float]]


class ProcessGauges(Collector):
    """Named gauges and labelled counters whose values come from callbacks."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, Read]] = {}
        self._counters: dict[str, tuple[str, str, ReadLabelled]] = {}

    def gauge(self, name: str, documentation: str, read: Read) -> None:
        self._gauges[name] = (documentation, read)

    def counter(self, name: str, documentation: str, label: str, read: ReadLabelled) -> None:
        """A counter per value of `label`; `name` is exported with the `_total` suffix."""
        self._counters[name] = (documentation, label, read)

    def remove(self, name: str) -> None:
        self._gauges.pop(name, None)
        self._counters.pop(name, None)

    def collect(self) -> Iterator[Metric]:
        for name, (documentation, read) in list(self._gauges.items()):
            yield GaugeMetricFamily(name, documentation, value=read())
        for name, (documentation, label, read_labelled) in list(self._counters.items()):
            family = CounterMetricFamily(name, documentation, labels=[label])
            for value, count in read_labelled().items():
                family.add_metric([value], count)
            yield family


GAUGES = ProcessGauges()
REGISTRY.register(GAUGES)
