"""Delivery semantics shared by the in-process bus and the RabbitMQ dispatcher.

One attempt, then `retry` retries with the Trigger's backoff while the failure is retryable, then the
event goes to the dead-letter sink carrying why it failed (Knative's knativeerror* extensions, plus
the number of attempts and the Trigger, which Knative does not record).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cloudevents.http import CloudEvent

from shared.events.routing import Delivery, TriggerRoute

ERROR_DEST_EXTENSION = "knativeerrordest"
ERROR_CODE_EXTENSION = "knativeerrorcode"
ERROR_DATA_EXTENSION = "knativeerrordata"
ATTEMPTS_EXTENSION = "t2battempts"
TRIGGER_EXTENSION = "t2btrigger"
ERROR_DATA_MAX_LENGTH = 1024  # Knative truncates the failure's body to this many bytes


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


def next_delay(result: AttemptResult, attempts: int, delays: list[float]) -> float | None:
    """How long to wait before the next attempt, or None when this result is the outcome."""
    if result.ok or not result.retryable or attempts > len(delays):
        return None
    return delays[attempts - 1]


class _Retries:
    """The attempt count and backoff both retry loops keep; they differ only in how they wait."""

    def __init__(
        self, delivery: Delivery, backoff_scale: float, on_failure: Callable[[AttemptResult], None] | None
    ) -> None:
        self._delays = delivery.retry_delays(backoff_scale)
        self._on_failure = on_failure
        self.attempts = 0

    def after(self, result: AttemptResult) -> float | None:
        """Count `result`, report it when it failed, and say how long to wait (None: it is the outcome)."""
        self.attempts += 1
        if not result.ok and self._on_failure is not None:
            self._on_failure(result)
        return next_delay(result, self.attempts, self._delays)


def deliver_with_retries(
    attempt: Callable[[], AttemptResult],
    delivery: Delivery,
    *,
    backoff_scale: float,
    stop: threading.Event | None = None,
    on_failure: Callable[[AttemptResult], None] | None = None,
) -> DeliveryOutcome:
    """Run attempts until one succeeds, a failure is not retryable, retries run out, or `stop` is set."""
    retries = _Retries(delivery, backoff_scale, on_failure)
    while True:
        result = attempt()
        delay = retries.after(result)
        if delay is None:
            return DeliveryOutcome(result.ok, retries.attempts, result)
        if stop is not None:
            if stop.wait(delay):
                return DeliveryOutcome(False, retries.attempts, result)
        else:
            time.sleep(delay)


async def deliver_with_retries_async(
    attempt: Callable[[], Awaitable[AttemptResult]],
    delivery: Delivery,
    *,
    backoff_scale: float,
    stop: asyncio.Event,
    on_failure: Callable[[AttemptResult], None] | None = None,
) -> DeliveryOutcome:
    """deliver_with_retries on an event loop: the backoff waits without holding a worker."""
    retries = _Retries(delivery, backoff_scale, on_failure)
    while True:
        result = await attempt()
        delay = retries.after(result)
        if delay is None:
            return DeliveryOutcome(result.ok, retries.attempts, result)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return DeliveryOutcome(False, retries.attempts, result)


def failure_extensions(trigger: TriggerRoute, destination: str, outcome: DeliveryOutcome) -> dict[str, str]:
    """Extensions a dead-lettered event carries; strings, so both transports deliver identical events."""
    extensions = {
        ERROR_DEST_EXTENSION: destination,
        ERROR_CODE_EXTENSION: str(outcome.last.code),
        ATTEMPTS_EXTENSION: str(outcome.attempts),
        TRIGGER_EXTENSION: trigger.name,
    }
    if outcome.last.detail:
        extensions[ERROR_DATA_EXTENSION] = encode_error_data(outcome.last.detail)
    return extensions


def encode_error_data(detail: str) -> str:
    """knativeerrordata as Knative sends it: base64, so a multi-line or non-ASCII reason survives HTTP headers."""
    clipped = detail.encode("utf-8")[:ERROR_DATA_MAX_LENGTH].decode("utf-8", errors="ignore")  # no split character
    return base64.b64encode(clipped.encode("utf-8")).decode("ascii")


def decode_error_data(value: str) -> str:
    """The failure's text; a sender that put plain text in the extension is taken at its word."""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return value


def dead_letter_event(event: CloudEvent, extensions: dict[str, str]) -> CloudEvent:
    """The original event (same id, same data) with the failure recorded as extensions."""
    return CloudEvent({**event.get_attributes(), **extensions}, event.get_data())
