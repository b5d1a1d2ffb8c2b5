"""The local runtime: the right column of ARCHITECTURE §4 on one machine.

- HTTP functions: one uvicorn server (a thread) serving every kind=="http" function on one port.
- Event functions: without AMQP_URL the in-process bus (`get_publisher()`) calls their handlers;
  with AMQP_URL each runs as its own functions-framework process and the RabbitMQ dispatcher
  consumes the Trigger queues and POSTs to it, as Knative's eventing-rabbitmq does.
- PingSources: a scheduler publishing each manifest's event at its due times.
- With RabbitMQ, a loop keeping the queue-depth gauge of /metrics current.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import pika
import uvicorn

from shared.config import get_settings
from shared.db import migrate
from shared.events.dispatcher import RabbitDispatcher
from shared.events.publisher import Publisher, get_publisher
from shared.events.rabbitmq import declare_topology, queue_depths
from shared.events.routing import RoutingTable, load_routing
from shared.runtime.processes import FunctionProcess, service_urls, start_functions, stop_functions
from shared.runtime.scheduler import PingScheduler
from shared.web.local import create_local_server, discover_functions

log = logging.getLogger("time2bet.runtime")

# The namespace knative/base/kustomization.yaml deploys to: PingSource events name it in their source.
NAMESPACE = "time2bet"
QUEUE_DEPTH_INTERVAL_SECONDS = 5.0
HTTP_START_TIMEOUT_SECONDS = 60.0
THREAD_STOP_TIMEOUT_SECONDS = 10.0
# In-process deliveries still running (a long scrape) get this long to finish before the process leaves them.
PUBLISHER_FLUSH_SECONDS = 5.0


class RuntimeStartError(RuntimeError):
    """A part of the local runtime could not start."""


@dataclass(frozen=True)
class RuntimeOptions:
    host: str
    port: int
    ping_now: bool = False


class HttpServer:
    """uvicorn in a thread, so the main thread keeps the signals and decides when to stop."""

    def __init__(self, host: str, port: int) -> None:
        config = uvicorn.Config(create_local_server, factory=True, host=host, port=port, log_level="info")
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
        self._functions: list[FunctionProcess] = []
        self._dispatcher: RabbitDispatcher | None = None
        self._queue_depths: QueueDepthLoop | None = None
        self._scheduler: PingScheduler | None = None
        self._http: HttpServer | None = None
        self._publisher: Publisher | None = None

    def start(self) -> None:
        settings = get_settings()
        migrate.upgrade(settings.resolved_database_url)  # a fresh data directory needs its tables
        routing = load_routing()
        if settings.amqp_url:
            self._start_rabbitmq_transport(settings.amqp_url, routing)
        self._publisher = get_publisher()  # without AMQP_URL: the in-process bus, built once with every handler
        self._scheduler = PingScheduler(routing.pingsources, self._publisher.publish, NAMESPACE)
        self._scheduler.start(fire_at_start=self._options.ping_now)
        self._http = HttpServer(self._options.host, self._options.port)
        self._http.start()
        log.info("local runtime up on http://%s:%d", self._options.host, self._options.port)

    def failure(self) -> str | None:
        """Why the runtime cannot go on (an event function process died), or None."""
        for function in self._functions:
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
        if self._publisher is not None:
            _close_within(self._publisher, PUBLISHER_FLUSH_SECONDS)
        if self._dispatcher is not None:
            self._dispatcher.stop()
        stop_functions(self._functions)
        log.info("local runtime stopped")

    def _start_rabbitmq_transport(self, amqp_url: str, routing: RoutingTable) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            declare_topology(connection.channel(), routing)
        finally:
            connection.close()
        specs = [f.spec for f in discover_functions() if f.spec.kind == "event"]
        self._functions = start_functions(specs)
        consumed = _served_routes(routing, {spec.name for spec in specs})
        self._dispatcher = RabbitDispatcher(amqp_url, consumed, service_urls(self._functions))
        self._dispatcher.start()
        self._queue_depths = QueueDepthLoop(amqp_url, routing)
        self._queue_depths.start()


def _close_within(publisher: Publisher, timeout: float) -> None:
    closing = threading.Thread(target=publisher.close, name="publisher-close", daemon=True)
    closing.start()
    closing.join(timeout)
    if closing.is_alive():
        log.warning("event deliveries still running after %.0f s: abandoned", timeout)


def _served_routes(routing: RoutingTable, running: set[str]) -> RoutingTable:
    """The Triggers whose subscriber runs here; the others' queues keep their events until it does."""
    missing = sorted({t.subscriber_service for t in routing.triggers} - running)
    if missing:
        log.warning("no function folder for %s: their Trigger queues are not consumed", ", ".join(missing))
    triggers = tuple(t for t in routing.triggers if t.subscriber_service in running)
    return RoutingTable(brokers=routing.brokers, triggers=triggers, pingsources=routing.pingsources)
