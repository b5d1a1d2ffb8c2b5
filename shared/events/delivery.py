"""Delivery semantics shared by the in-process bus and the RabbitMQ dispatcher.

One attempt, then `retry` retries with the Trigger's backoff while the failure is retryable, then the
event goes to the dead-letter sink carrying why it failed (Knative's knativeerror* extensions, plus
the number of attempts and the Trigger, which Knative does not record).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cloudevents.http import CloudEvent

from shared.events.routing import Delivery, TriggerRoute

ERROR_DEST_EXTENSION = "knativeerrordest"
ERROR_CODE_EXTENSION = "knativeerrorcode"
ERROR_DATA_EXTENSION = "knativeerrordata"
ATTEMPTS_EXTENSION = "t2battempts"
TRIGGER_EXTENSION = "t2btrigger"
ERROR_DATA_MAX_LENGTH = 1024  # Knative truncates knativeerrordata to this


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    code: int  # HTTP status, or the status an in-process failure stands for (0 = no answer at all)
    detail: str = ""

    @property
    def retryable(self) -> bool:
        """Retry server errors, timeouts, throttling and no answer; any other 4xx is poison."""
        return not self.ok and (self.code == 0 or self.code >= 500 or self.code in (408, 429))


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    attempts: int
    last: AttemptResult


def deliver_with_retries(
    attempt: Callable[[], AttemptResult],
    delivery: Delivery,
    *,
    backoff_scale: float,
    stop: threading.Event | None = None,
    on_failure: Callable[[AttemptResult], None] | None = None,
) -> DeliveryOutcome:
    """Run attempts until one succeeds, a failure is not retryable, retries run out, or `stop` is set."""
    delays = delivery.retry_delays(backoff_scale)
    attempts = 0
    while True:
        result = attempt()
        attempts += 1
        if result.ok:
            return DeliveryOutcome(True, attempts, result)
        if on_failure is not None:
            on_failure(result)
        if not result.retryable or attempts > len(delays):
            return DeliveryOutcome(False, attempts, result)
        delay = delays[attempts - 1]
        if stop is not None:
            if stop.wait(delay):
                return DeliveryOutcome(False, attempts, result)
        else:
            time.sleep(delay)


def failure_extensions(trigger: TriggerRoute, destination: str, outcome: DeliveryOutcome) -> dict[str, str]:
    """Extensions a dead-lettered event carries; strings, so both transports deliver identical events."""
    extensions = {
        ERROR_DEST_EXTENSION: destination,
        ERROR_CODE_EXTENSION: str(outcome.last.code),
        ATTEMPTS_EXTENSION: str(outcome.attempts),
        TRIGGER_EXTENSION: trigger.name,
    }
    if outcome.last.detail:
        extensions[ERROR_DATA_EXTENSION] = outcome.last.detail[:ERROR_DATA_MAX_LENGTH]
    return extensions


def dead_letter_event(event: CloudEvent, extensions: dict[str, str]) -> CloudEvent:
    """The original event (same id, same data) with the failure recorded as extensions."""
    return CloudEvent({**event.get_attributes(), **extensions}, event.get_data())
