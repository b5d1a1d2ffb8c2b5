"""Publishing an event from a function, whichever runtime it runs in.

A process has one (`Services.publisher`): with AMQP_URL the RabbitMQ publisher (the exchanges the
dispatcher consumes from, declared on first use), without it the in-process bus delivering to the
event functions the runtime hosts here (`Services.host_event_functions`), routed by the same Trigger
manifests.
The bus delivers in a background thread so an HTTP caller answers without waiting for the handlers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika
import pika.exceptions
from cloudevents.http import CloudEvent

from shared.config import Settings
from shared.events.bus import EventHandler, InProcessBus
from shared.events.contract import contract_type, spec_for
from shared.events.dedupe import Deduper
from shared.events.rabbitmq import CONNECTION_ERRORS, BrokerBlocked, PublishFailed, RabbitPublisher, declare_topology
from shared.events.routing import DEFAULT_ROUTING_DIR, RoutingTable, load_routing

log = logging.getLogger(__name__)

# A request must not hang on a dead broker: one connection attempt, a short socket and handshake timeout.
FAIL_FAST_CONNECTION = {"connection_attempts": "1", "retry_delay": "0", "socket_timeout": "2", "stack_timeout": "3"}
# After a failure, refuse at once for this long rather than let every request try to connect again.
RETRY_AFTER_SECONDS = 2.0
BACKGROUND_WORKERS = 4
BROKER_ERRORS = (pika.exceptions.AMQPError, *CONNECTION_ERRORS, OSError, TimeoutError)


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
        self._parameters = pika.URLParameters(fail_fast_url(amqp_url))
        self._routing = routing
        self._publisher = RabbitPublisher(amqp_url, routing)
        self._declared = False
        self._lock = threading.Lock()
        self._refuse_until = 0.0
        self._last_failure = ""

    @property
    def where(self) -> str:
        """Host, port and vhost: the URL without its credentials, for messages."""
        return f"{self._parameters.host}:{self._parameters.port} (vhost {self._parameters.virtual_host})"

    def publish(self, event: CloudEvent) -> None:
        self.publish_many([event])

    def publish_many(self, events: Sequence[CloudEvent]) -> None:
        """Publish the events together, their confirms awaited as one batch."""
        if time.monotonic() < self._refuse_until:
            raise BrokerUnavailable(self._last_failure)
        try:
            self._declare_once()
            self._publisher.publish_many(events)
        except BrokerBlocked as error:
            # Flow control is not an outage: no refusal window, the next request may get through.
            raise BrokerUnavailable(f"RabbitMQ at {self.where} is applying backpressure: {error}") from error
        except (*BROKER_ERRORS, PublishFailed) as error:
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


def publisher_from_settings(settings: Settings, hosted: Mapping[str, EventHandler], deduper: Deduper) -> Publisher:
    """RabbitMQ with AMQP_URL, else the in-process bus delivering to the `hosted` event functions."""
    routing = load_routing(settings.events_routing_dir or DEFAULT_ROUTING_DIR)
    if settings.amqp_url:
        return AmqpPublisher(settings.amqp_url, routing)
    return BackgroundBus(InProcessBus(routing, hosted, deduper=deduper, backoff_scale=settings.events_backoff_scale))
