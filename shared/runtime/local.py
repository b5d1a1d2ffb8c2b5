"""The local runtime: the right column of ARCHITECTURE §4 on one machine.

- HTTP functions: one uvicorn server (a thread) serving every kind=="http" function on one port.
- One `Services` for the whole process, closed last.
- Event functions: without AMQP_URL the in-process bus (`Services.publisher`) calls their handlers;
  with AMQP_URL each runs as its own uvicorn process and the RabbitMQ dispatcher
  consumes the Trigger queues and POSTs to it, as Knative's eventing-rabbitmq does, every delivery
  signed with this run's key and verified by the process (shared/runtime/rabbit_transport.py).
- PingSources: a scheduler publishing each manifest's event at its due times.
- With RabbitMQ, a loop keeping the queue-depth gauge of /metrics current.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from shared.db import migrate
from shared.events.rabbitmq import queue_depths
from shared.events.routing import RoutingTable, load_routing
from shared.runtime.functions import LoadedFunction, discover_functions, host_functions
from shared.runtime.rabbit_transport import RabbitTransport
from shared.runtime.scheduler import PingScheduler
from shared.services import Services
from shared.web.local import LocalServer

log = logging.getLogger("time2bet.runtime")

# The namespace knative/base/kustomization.yaml deploys to: PingSource events name it in their source.
NAMESPACE = "soccer-api"
QUEUE_DEPTH_INTERVAL_SECONDS = 5.0
HTTP_START_TIMEOUT_SECONDS = 60.0
THREAD_STOP_TIMEOUT_SECONDS = 10.0
# In-process deliveries still running (a long scrape) and the prediction log's last rows get this long
# before the process leaves them.
SERVICES_CLOSE_SECONDS = 10.0


class RuntimeStartError(RuntimeError):
    """A part of the local runtime could not start."""


@dataclass(frozen=True)
class RuntimeOptions:
    host: str
    port: int
    ping_now: bool = False


class HttpServer:
    """uvicorn in a thread, so the main thread keeps the signals and decides when to stop."""

    def __init__(self, server: LocalServer, host: str, port: int) -> None:
        config = uvicorn.Config(server, host=host, port=port, log_level="info")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="http", daemon=True)

    def start(self, timeout: float = HTTP_START_TIMEOUT_SECONDS) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeStartError("the HTTP server did not start (port in use or a function failed to load)")
            time.sleep(0.05)

    def stop(self) -> None:
        # should_exit finishes requests in flight and runs the apps' lifespan shutdown (log flushes).
        self._server.should_exit = True
        self._thread.join(THREAD_STOP_TIMEOUT_SECONDS)


class QueueDepthLoop:
    def __init__(self, amqp_url: str, routing: RoutingTable) -> None:
        self._amqp_url, self._routing = amqp_url, routing
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="queue-depth", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(THREAD_STOP_TIMEOUT_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                queue_depths(self._amqp_url, self._routing)
            except Exception as error:  # a RabbitMQ outage must not end the loop; the gauge keeps its last values
                log.warning("queue depths unavailable: %s", error)
            self._stop.wait(QUEUE_DEPTH_INTERVAL_SECONDS)


class LocalRuntime:
    def __init__(self, options: RuntimeOptions) -> None:
        self._options = options
        self._transport: RabbitTransport | None = None
        self._queue_depths: QueueDepthLoop | None = None
        self._scheduler: PingScheduler | None = None
        self._http: HttpServer | None = None
        self._services: Services | None = None

    def start(self) -> None:
        # one interpreter hosts every function: predict's process-wide collector tuning stays off
        self._services = services = Services.from_environment(shares_interpreter=True)
        settings = services.settings
        migrate.upgrade(settings.resolved_database_url)  # a fresh data directory needs its tables
        routing = load_routing()
        loaded = discover_functions()
        if settings.amqp_url:
            self._start_rabbitmq_transport(settings.amqp_url, routing, loaded)
        server = host_functions(loaded, services, owns_services=False)  # hosts the handlers before the bus exists
        self._scheduler = PingScheduler(routing.pingsources, services.publisher.publish, NAMESPACE)
        self._scheduler.start(fire_at_start=self._options.ping_now)
        self._http = HttpServer(server, self._options.host, self._options.port)
        self._http.start()
        log.info("local runtime up on http://%s:%d", self._options.host, self._options.port)

    def failure(self) -> str | None:
        """Why the runtime cannot go on (an event function process died), or None."""
        for function in self._transport.functions if self._transport else []:
            code = function.process.poll()
            if code is not None:
                return f"event function {function.spec.name} exited with {code}"
        return None

    def stop(self) -> None:
        """Stop in the reverse order of the flow: no new pings or requests, then drain the deliveries."""
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._http is not None:
            self._http.stop()
        if self._queue_depths is not None:
            self._queue_depths.stop()
        if self._services is not None:
            _close_within(self._services.close, SERVICES_CLOSE_SECONDS)
        if self._transport is not None:
            self._transport.stop()
        log.info("local runtime stopped")

    def _start_rabbitmq_transport(self, amqp_url: str, routing: RoutingTable, loaded: list[LoadedFunction]) -> None:
        self._transport = RabbitTransport(amqp_url, routing, NAMESPACE)
        self._transport.start(f.spec for f in loaded if f.spec.kind == "event")
        self._queue_depths = QueueDepthLoop(amqp_url, routing)
        self._queue_depths.start()


def _close_within(close: Callable[[], None], timeout: float) -> None:
    closing = threading.Thread(target=close, name="services-close", daemon=True)
    closing.start()
    closing.join(timeout)
    if closing.is_alive():
        log.warning("event deliveries or log writes still running after %.0f s: abandoned", timeout)
