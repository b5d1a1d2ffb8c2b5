"""What every CloudEvent task function does around its own work.

A task function's `task` is an `EventTask`: it counts the event, drops a duplicate (same source +
id already handled by this function), validates it, runs the work, and only then remembers the id
(marking first would lose the redelivered copy of an event whose handling crashed). A task whose
work keeps its own record of what it did (infer: the async job's state) is `deduped_by_work`: the work
answers "duplicate" to a repeat, and the task spends no Redis round trips on event ids. The work gets
the process's `Services` beside the event: under functions-framework the ones of the framework's
app (`app_services()`, built on the first event), in the in-process bus the runtime's
(`EventTask.bound`).

Failures are exceptions the two runtimes both understand:
- `InvalidEvent` (bad type/data): 400 with the reason, never retried; the dispatcher dead-letters it.
- `RetryLater` (the work may succeed later, e.g. the source blocked us): its 5xx status (503).
- a `FunctionError` (shared/errors.py) or an outage of a backing service: RetryLater when it is
  `retryable`, else InvalidEvent.
- anything else: 500 with a one-line reason (retryable), logged with its traceback.
Under functions-framework `install_http_handlers()` turns them into those HTTP answers (the
framework itself answers 500 to any exception and ignores the return value of a cloudevent
function); the in-process bus calls the bound task directly and maps InvalidEvent to 400, the rest to 500.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

import flask
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent
from prometheus_client import Counter
from werkzeug.exceptions import HTTPException

from shared.errors import FunctionError, outage
from shared.events.auth import require_sender_identity
from shared.events.contract import Envelope, EventData, InvalidEvent, contract_type, parse_event
from shared.events.dedupe import Deduper
from shared.events.metrics import _metric
from shared.function_spec import LIVENESS_PATH, READINESS_PATH
from shared.metrics import exposition

if TYPE_CHECKING:
    from shared.events.bus import EventHandler
    from shared.services import Services

log = logging.getLogger("time2bet.tasks")

T = TypeVar("T")

# Task-side counters. The dispatcher's t2b_events_* count the same events from the broker side (and,
# in the in-process bus, in the same process with the same labels), so these have their own names.
TASK_EVENTS_RECEIVED = _metric(
    Counter, "t2b_task_events_received", "CloudEvents a task function received", ("type", "function")
)
TASK_EVENTS_PROCESSED = _metric(
    Counter,
    "t2b_task_events_processed",
    "CloudEvents a task function finished; outcome = the work's own outcome (done, stored, ...) | "
    "duplicate | rejected (400) | retry (5xx, retryable) | failed (unexpected error, 500)",
    ("type", "function", "outcome"),
)


class RetryLater(Exception):
    """The work failed in a way a later attempt may not: answered with a retryable 5xx status."""

    def __init__(self, reason: str, status: int = 503) -> None:
        if status < 500:
            raise ValueError(f"a retryable failure needs a 5xx status, got {status}")
        super().__init__(reason)
        self.reason = reason
        self.status = status


def type_label(event: CloudEvent) -> str:
    """The contract type (a ping counts as the type it stands for), else the raw type."""
    try:
        return contract_type(event)
    except InvalidEvent:
        return str(event["type"])


@dataclass(frozen=True)
class EventTask(Generic[T]):
    """A CloudEvent handler: `parse` validates (raises InvalidEvent), `process` works with the process's
    services and names its outcome."""

    function: str  # the Knative Service name (SPEC.name): the dedupe subscription and the metrics label
    process: Callable[[T, Services], str | None]
    parse: Callable[[CloudEvent], T]
    deduped_by_work: bool = False

    def bound(self, services: Services) -> EventHandler:
        """The handler the in-process bus calls: this task with the runtime's services."""
        return partial(self, services=services)

    def __call__(self, event: CloudEvent, services: Services) -> None:
        event_type = type_label(event)
        TASK_EVENTS_RECEIVED.labels(event_type, self.function).inc()
        deduper = None if self.deduped_by_work else services.deduper
        key = Deduper.key(self.function, str(event["source"]), str(event["id"]))
        if deduper is not None and deduper.seen(key):
            log.info("%s: event %s (%s) already handled: ignored", self.function, event["id"], event_type)
            self._count(event_type, "duplicate")
            return
        try:
            try:
                outcome = self.process(self.parse(event), services) or "done"
            except Exception as error:
                failure = as_event_failure(error)
                if failure is error:
                    raise
                raise failure from error
        except InvalidEvent as error:
            log.warning("%s: rejected event %s (%s): %s", self.function, event["id"], event_type, error.reason)
            self._count(event_type, "rejected")
            raise
        except RetryLater as error:
            log.warning("%s: event %s (%s) to retry: %s", self.function, event["id"], event_type, error.reason)
            self._count(event_type, "retry")
            raise
        except Exception:
            log.exception("%s: event %s (%s) failed", self.function, event["id"], event_type)
            self._count(event_type, "failed")
            raise
        if deduper is not None:
            deduper.remember(key)
        self._count(event_type, outcome)

    def _count(self, event_type: str, outcome: str) -> None:
        TASK_EVENTS_PROCESSED.labels(event_type, self.function, outcome).inc()


def as_event_failure(error: Exception) -> Exception:
    """Retry decided by the error itself, never by an HTTP code: a retryable FunctionError or an outage
    of a backing service is RetryLater; any other FunctionError (bad input, not found) is rejected."""
    if isinstance(error, InvalidEvent | RetryLater):
        return error
    known = error if isinstance(error, FunctionError) else outage(error)
    if known is None:
        return error
    if known.retryable:
        return RetryLater(str(known), known.status_code)
    return InvalidEvent(str(known))


def typed_task(
    function: str, process: Callable[[Envelope[EventData], Services], str | None], deduped_by_work: bool = False
) -> EventTask[Envelope[EventData]]:
    """A task on contract events: validated by `parse_event` (pings resolved to the type they stand for)."""
    return EventTask(function=function, process=process, parse=parse_event, deduped_by_work=deduped_by_work)


# --- HTTP answers under functions-framework ----------------------------------------------------


def _text(status: int, reason: str) -> flask.Response:
    return flask.Response(reason + "\n", status=status, mimetype="text/plain")


def _on_invalid(error: InvalidEvent) -> flask.Response:
    return _text(400, error.reason)


def _on_not_cloudevent(error: GenericException) -> flask.Response:
    return _text(400, f"not a CloudEvent: {error}")


def _on_retry(error: RetryLater) -> flask.Response:
    return _text(error.status, error.reason)


def _on_unexpected(error: Exception) -> flask.Response | HTTPException:
    if isinstance(error, HTTPException):  # the framework's own 400/404/405: keep them
        return error
    return _text(500, f"{type(error).__name__}: {error}")


def _metrics() -> flask.Response:
    body, content_type = exposition()
    return flask.Response(body, status=200, content_type=content_type)


def _serving() -> flask.Response:
    return flask.jsonify(status="ok")


SERVICES_EXTENSION = "time2bet.services"


class _AppServices:
    """The functions-framework process's services: built on its first event, closed when it exits."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._services is None:
                from shared.services import Services

                self._services = Services.from_environment()
                atexit.register(self._services.close)
            return self._services


def app_services() -> Services:
    """The services of the functions-framework app serving this event (see install_http_handlers)."""
    return flask.current_app.extensions[SERVICES_EXTENSION].get()


def install_http_handlers() -> None:
    """Status codes for the failures above, GET /metrics (Prometheus) and GET /health, /health/ready,
    and the process's services for app_services().

    functions-framework executes the function's module inside its Flask app context, so a main.py
    calling this at import time configures that app; imported anywhere else (function discovery,
    the in-process bus) there is no app and nothing to do.
    """
    if not flask.has_app_context():
        return
    app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    if "t2b_metrics" in app.view_functions:
        return  # already set up: the in-process bus imported another function module inside this app
    app.extensions[SERVICES_EXTENSION] = _AppServices()
    app.register_error_handler(InvalidEvent, _on_invalid)
    app.register_error_handler(GenericException, _on_not_cloudevent)
    app.register_error_handler(RetryLater, _on_retry)
    app.register_error_handler(Exception, _on_unexpected)
    # with EVENTS_OIDC_VERIFY only a Trigger's token opens the rest (shared/events/auth.py)
    require_sender_identity(app, is_open=lambda endpoint: str(endpoint).startswith("t2b_"))
    app.add_url_rule("/metrics", endpoint="t2b_metrics", view_func=_metrics, methods=["GET"])
    # Knative's probes: the module imported and the framework serves, so the pod can take events
    for path in (LIVENESS_PATH, READINESS_PATH):
        app.add_url_rule(path, endpoint=f"t2b_probe{path}", view_func=_serving, methods=["GET"])
