"""Prometheus metrics of the event layer, on the default registry.

Several functions share one process locally and modules may be re-imported (tests, reloaders), so
each collector is fetched from the registry when it already exists instead of registered twice.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

MetricT = TypeVar("MetricT", bound=MetricWrapperBase)


def _metric(kind: type[MetricT], name: str, documentation: str, labels: tuple[str, ...], **options: object) -> MetricT:
    # The registry has no public lookup; a Counter is also mapped under its bare name.
    existing = REGISTRY._names_to_collectors.get(name)
    if existing is not None:
        return existing  # type: ignore[return-value]
    return kind(name, documentation, labels, **options)


EVENTS_PUBLISHED = _metric(Counter, "t2b_events_published", "Events published to a broker", ("type", "broker"))
EVENTS_RECEIVED = _metric(
    Counter, "t2b_events_received", "Events taken for delivery to a subscriber", ("type", "subscriber")
)
EVENTS_PROCESSED = _metric(
    Counter,
    "t2b_events_processed",
    "Events finished per subscriber; outcome = delivered | duplicate | dead_lettered | lost",
    ("type", "subscriber", "outcome"),
)
DELIVERY_FAILURES = _metric(
    Counter,
    "t2b_event_delivery_failures",
    "Failed delivery attempts; kind = retryable | poison",
    ("type", "subscriber", "kind"),
)
DEAD_LETTERED = _metric(
    Counter, "t2b_events_dead_lettered", "Events sent to a dead-letter sink", ("type", "subscriber")
)
DISPATCH_SECONDS = _metric(
    Histogram,
    "t2b_event_dispatch_seconds",
    "Time from taking an event to its final outcome, retries included",
    ("type", "subscriber"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = _metric(Gauge, "t2b_event_queue_depth", "Messages ready in a RabbitMQ queue", ("queue",))
