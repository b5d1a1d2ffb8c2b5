"""The in-process event bus: the local runtime without RabbitMQ.

Routes by the same Trigger filters as Knative, calls each subscriber's CloudEvent handler (the same
task its functions-framework entry point runs) synchronously, retries per the Trigger's delivery,
then hands the event to the dead-letter handler. Delivery is at most once per subscription and
event (dedupe), like the handlers would see with Knative's at-least-once plus their own dedupe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from cloudevents.http import CloudEvent

from shared.config import get_settings
from shared.events import metrics
from shared.events.contract import InvalidEvent, contract_type, spec_for
from shared.events.dedupe import Deduper
from shared.events.delivery import (
    AttemptResult,
    DeliveryOutcome,
    dead_letter_event,
    deliver_with_retries,
    failure_extensions,
)
from shared.events.routing import RoutingTable, TriggerRoute

log = logging.getLogger(__name__)

EventHandler = Callable[[CloudEvent], object]
Outcome = Literal["delivered", "duplicate", "dead_lettered", "lost"]

# In-process failures mapped onto the HTTP codes a Knative subscriber would have answered.
POISON_CODE = 400  # the handler rejected the event as invalid: retrying cannot help
HANDLER_ERROR_CODE = 500
NO_HANDLER_CODE = 404


@dataclass(frozen=True)
class Delivered:
    trigger: str
    service: str
    outcome: Outcome
    attempts: int


class InProcessBus:
    def __init__(
        self,
        routing: RoutingTable,
        handlers: Mapping[str, EventHandler],
        *,
        deduper: Deduper | None = None,
        backoff_scale: float | None = None,
    ) -> None:
        self._routing = routing
        self._handlers = dict(handlers)
        self._deduper = deduper or Deduper.from_settings()
        self._backoff_scale = get_settings().events_backoff_scale if backoff_scale is None else backoff_scale
        missing = sorted(routing.services - self._handlers.keys())
        if missing:
            log.warning("in-process bus: no handler for %s; their events will be dead-lettered", ", ".join(missing))

    def publish(self, event: CloudEvent, broker: str | None = None) -> list[Delivered]:
        """Deliver to every matching Trigger of the broker (by default the contract's broker for the type)."""
        broker = broker or spec_for(contract_type(event)).broker
        metrics.EVENTS_PUBLISHED.labels(event["type"], broker).inc()
        triggers = self._routing.triggers_for(broker, event.get_attributes())
        return [self._deliver(event, trigger) for trigger in triggers]

    def _deliver(self, event: CloudEvent, trigger: TriggerRoute) -> Delivered:
        event_type, service = event["type"], trigger.subscriber_service
        metrics.EVENTS_RECEIVED.labels(event_type, service).inc()
        key = Deduper.key(trigger.name, event["source"], event["id"])
        if self._deduper.seen(key):
            metrics.EVENTS_PROCESSED.labels(event_type, service, "duplicate").inc()
            return Delivered(trigger.name, service, "duplicate", 0)

        started = time.perf_counter()
        result = deliver_with_retries(
            lambda: self._call(service, event),
            trigger.delivery,
            backoff_scale=self._backoff_scale,
            on_failure=lambda failed: metrics.DELIVERY_FAILURES.labels(
                event_type, service, "retryable" if failed.retryable else "poison"
            ).inc(),
        )
        outcome: Outcome = "delivered" if result.delivered else self._dead_letter(event, trigger, result)
        metrics.DISPATCH_SECONDS.labels(event_type, service).observe(time.perf_counter() - started)
        metrics.EVENTS_PROCESSED.labels(event_type, service, outcome).inc()
        if outcome != "lost":
            self._deduper.remember(key)
        return Delivered(trigger.name, service, outcome, result.attempts)

    def _call(self, service: str, event: CloudEvent) -> AttemptResult:
        handler = self._handlers.get(service)
        if handler is None:
            return AttemptResult(False, NO_HANDLER_CODE, f"no handler for service {service!r}")
        try:
            handler(event)
        except InvalidEvent as error:
            return AttemptResult(False, POISON_CODE, f"InvalidEvent: {error.reason}")
        except Exception as error:  # a handler bug must become a retry/dead letter, not kill the publisher
            log.exception("handler %s failed on event %s", service, event["id"])
            return AttemptResult(False, HANDLER_ERROR_CODE, f"{type(error).__name__}: {error}")
        return AttemptResult(True, 200)

    def _dead_letter(self, event: CloudEvent, trigger: TriggerRoute, result: DeliveryOutcome) -> Outcome:
        sink = trigger.delivery.dead_letter_service
        if sink is None:
            log.error(
                "event %s (%s) failed for %s and trigger %s has no dead-letter sink: dropped",
                event["id"],
                event["type"],
                trigger.subscriber_service,
                trigger.name,
            )
            return "lost"
        letter = dead_letter_event(event, failure_extensions(trigger, trigger.subscriber_service, result))
        sink_result = self._call(sink, letter)
        if not sink_result.ok:
            log.error(
                "event %s (%s): dead-letter service %s failed too (%s): dropped",
                event["id"],
                event["type"],
                sink,
                sink_result.detail,
            )
            return "lost"
        metrics.DEAD_LETTERED.labels(event["type"], trigger.subscriber_service).inc()
        return "dead_lettered"
