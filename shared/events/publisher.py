"""Publishing an event from a function, whichever runtime it runs in.

`get_publisher()` is one per process: with AMQP_URL the RabbitMQ publisher (the exchanges the
dispatcher consumes from, declared on first use), without it the in-process bus delivering to the
event functions of this checkout, routed by the same Trigger manifests. The bus delivers in a
background thread so an HTTP caller answers without waiting for the handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions
from cloudevents.http import CloudEvent

from shared.config import get_settings
from shared.events.bus import EventHandler, InProcessBus
from shared.events.contract import contract_type, spec_for
from shared.events.rabbitmq import RabbitPublisher, declare_topology
from shared.events.routing import RoutingTable, load_routing

log = logging.getLogger(__name__)

# A request must not hang on a dead broker: one connection attempt, a short socket and handshake timeout.
FAIL_FAST_CONNECTION = {"connection_attempts": "1", "retry_delay": "0", "socket_timeout": "2", "stack_timeout": "3"}
# After a failure, refuse at once for this long rather than let every request try to connect again.
RETRY_AFTER_SECONDS = 2.0
BACKGROUND_WORKERS = 4


class BrokerUnavailable(RuntimeError):
    """The event could not be handed to the broker: it was not published."""


class Publisher(Protocol):
    def publish(self, event: CloudEvent) -> None: ...

    def close(self) -> None: ...


def fail_fast_url(amqp_url: str) -> str:
    """The URL with pika's connection options set for failing fast, unless the URL sets them itself."""
    parts = urlsplit(amqp_url)
    options = {**FAIL_FAST_CONNECTION, **dict(parse_qsl(parts.query))}
    return urlunsplit(parts._replace(query=urlencode(options)))


class AmqpPublisher:
    """RabbitPublisher that declares the topology once and turns every broker failure into BrokerUnavailable."""

    def __init__(self, amqp_url: str, routing: RoutingTable) -> None:
        url = fail_fast_url(amqp_url)
        self._parameters = pika.URLParameters(url)
        self._routing = routing
        self._publisher = RabbitPublisher(url, routing)
        self._declared = False
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._last_failure = ""

    @property
    def where(self) -> str:
        """Host, port and vhost: the URL without its credentials, for messages."""
        return f"{self._parameters.host}:{self._parameters.port} (vhost {self._parameters.virtual_host})"

    def publish(self, event: CloudEvent) -> None:
        if time.monotonic() < self._refuse_until:
            raise BrokerUnavailable(self._last_failure)
        try:
            self._declare_once()
            self._publisher.publish(event)
        except (pika.exceptions.AMQPError, OSError) as error:
            self._last_failure = f"RabbitMQ at {self.where} unavailable: {type(error).__name__} {error}".strip()
            self._refuse_until = time.monotonic() + RETRY_AFTER_SECONDS
            raise BrokerUnavailable(self._last_failure) from error

    def close(self) -> None:
        self._publisher.close()

    def _declare_once(self) -> None:
        with self._lock:
            if self._declared:
                return
            connection = pika.BlockingConnection(self._parameters)
            try:
                declare_topology(connection.channel(), self._routing)
            finally:
                connection.close()
            self._declared = True


class BackgroundBus:
    """The in-process bus, delivering on a small thread pool; a handler's failure is the bus's to retry."""

    def __init__(self, bus: InProcessBus, workers: int = BACKGROUND_WORKERS) -> None:
        self._bus = bus
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="t2b-bus")

    def publish(self, event: CloudEvent) -> None:
        spec_for(contract_type(event))  # an unknown type is the caller's error, not a background log line
        self._executor.submit(self._deliver, event)

    def close(self) -> None:
        """Wait for the deliveries already published."""
        self._executor.shutdown(wait=True)

    def _deliver(self, event: CloudEvent) -> None:
        try:
            self._bus.publish(event)
        except Exception:  # the bus retries and dead-letters; anything escaping it must not vanish silently
            log.exception("in-process delivery of event %s (%s) failed", event["id"], event["type"])


def event_handlers() -> dict[str, EventHandler]:
    """Knative Service name → the CloudEvent handler of every event function under functions/."""
    from shared.web.local import discover_functions  # imports every function: only the in-process bus needs that

    return {f.spec.name: f.module.handle for f in discover_functions() if f.spec.kind == "event"}


@lru_cache(maxsize=1)
def get_publisher() -> Publisher:
    settings = get_settings()
    routing = load_routing()
    if settings.amqp_url:
        return AmqpPublisher(settings.amqp_url, routing)
    return BackgroundBus(InProcessBus(routing, event_handlers()))
