"""What every CloudEvent task function does around its own work.

A task function's `task` is an `EventTask`: it counts the event, drops a duplicate (same source +
id already handled by this function), validates it, runs the work, and only then remembers the id
(marking first would lose the redelivered copy of an event whose handling crashed). A task whose
work keeps its own record of what it did (infer: the async job's state) is `deduped_by_work`: the work
answers "duplicate" to a repeat, and the task spends no Redis round trips on event ids. The work gets
the process's `Services` beside the event: in a function's own process the ones of that process
(`app_services()`, built on the first event), in the in-process bus the runtime's (`EventTask.bound`).

Failures are exceptions the two runtimes both understand:
- `InvalidEvent` (bad type/data): 400 with the reason, never retried; the dispatcher dead-letters it.
- `RetryLater` (the work may succeed later, e.g. the source blocked us): its 5xx status (503).
- a `FunctionError` (shared/errors.py) or an outage of a backing service: RetryLater when it is
  `retryable`, else InvalidEvent.
- anything else: 500 with a one-line reason (retryable), logged with its traceback.
In a function's own process (`event_function_app`: functions-framework's ASGI app, served by uvicorn)
`serve_event` turns them into those HTTP answers; the in-process bus calls the bound task directly and
maps InvalidEvent to 400, the rest to 500.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

import functions_framework.aio
from cloudevents.http import CloudEvent
from prometheus_client import Counter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from shared.errors import FunctionError, outage
from shared.events.auth import SenderIdentity
from shared.events.contract import Envelope, EventData, InvalidEvent, contract_type, parse_event
from shared.events.dedupe import Deduper
from shared.events.metrics import _metric
from shared.function_spec import LIVENESS_PATH, READINESS_PATH, FunctionSpec
from shared.web.metrics import metrics_response

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


# --- the HTTP app of an event function ----------------------------------------------------------


def _serving(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# Answered before sender verification: Knative's probes and Prometheus carry no Trigger's token.
OPEN_PATHS = frozenset({"/metrics", LIVENESS_PATH, READINESS_PATH})


class _AppServices:
    """The function process's services: built on its first event (the probes answer before), closed when
    the server stops."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._services is None:
                from shared.services import Services

                self._services = Services.from_environment()
            return self._services

    async def aclose(self) -> None:
        with self._lock:
            services, self._services = self._services, None
        if services is not None:
            await services.aclose()


_APP_SERVICES = _AppServices()


def app_services() -> Services:
    """The services of the process serving this event function (see event_function_app)."""
    return _APP_SERVICES.get()


def serve_event(task: EventTask[T], event: CloudEvent) -> None:
    """`task` as functions-framework's entry point runs it: the process's services, and the failures above as
    their HTTP answers (left alone, functions-framework answers 500 "Internal Server Error" to any exception)."""
    try:
        task(event, app_services())
    except InvalidEvent as error:
        raise HTTPException(400, error.reason) from error
    except RetryLater as error:
        raise HTTPException(error.status, error.reason) from error
    except Exception as error:
        raise HTTPException(500, f"{type(error).__name__}: {error}") from error


def event_function_app(spec: FunctionSpec, handle: Callable[[CloudEvent], None]) -> Starlette:
    """What uvicorn serves for an event function: functions-framework's ASGI app for `handle` (a CloudEvent,
    binary or structured, POSTed to any path), GET /metrics, Knative's probes, and sender verification when
    the settings turn it on (shared/events/auth.py).

    functions-framework runs a plain `handle` on the loop's default executor, sized here to the requests
    Knative sends one pod at once. Its ASGI mode, not its Flask one: gunicorn's threads and Flask cost a
    no-op event 915 us of CPU against 217 here (#16).
    """
    module = sys.modules[handle.__module__]
    events = functions_framework.aio.create_asgi_app_from_module(
        handle.__name__, module.__file__, "cloudevent", module, None
    )
    threads = spec.scaling.container_concurrency or spec.scaling.target_concurrency

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(threads, thread_name_prefix=f"t2b-{spec.name}")
        asyncio.get_running_loop().set_default_executor(executor)
        try:
            yield
        finally:
            await _APP_SERVICES.aclose()

    probes = [Route(path, _serving, methods=["GET"]) for path in (LIVENESS_PATH, READINESS_PATH)]
    return Starlette(
        routes=[Route("/metrics", metrics_response, methods=["GET"]), *probes, Mount("", app=events)],
        middleware=[Middleware(SenderIdentity, open_paths=OPEN_PATHS)],
        lifespan=lifespan,
    )
