"""Consumes the Trigger queues and delivers each event over HTTP, as eventing-rabbitmq's dispatcher does.

One consumer thread per queue owns a pika BlockingConnection (pika is not thread-safe); up to
`parallelism` deliveries run at once on a worker pool (prefetch = parallelism) and hand their
ack/nack back to the consumer thread. A delivery is a binary-mode CloudEvent POST: 2xx acks; 5xx,
408, 429 and network errors are retried with the Trigger's backoff; then (or at once on any other
4xx, a poison event) the event is POSTed to the Trigger's dead-letter service with the failure
extensions and acked. If the dead-letter service fails as well the message is rejected into the
broker's dead-letter queue, whose consumer keeps it until the broker's dead-letter sink takes it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from shared.config import get_settings
from shared.events import metrics
from shared.events.amqp import attributes_from_amqp, http_headers_from_amqp
from shared.events.contract import InvalidEvent
from shared.events.dedupe import Deduper
from shared.events.delivery import (
    TRIGGER_EXTENSION,
    AttemptResult,
    DeliveryOutcome,
    deliver_with_retries,
    failure_extensions,
)
from shared.events.rabbitmq import dead_letter_queue, declare_topology, trigger_queue
from shared.events.routing import RoutingTable, TriggerRoute

log = logging.getLogger(__name__)

RECONNECT_DELAY_SECONDS = 1.0
POLL_SECONDS = 0.2
# ack (True) or reject (False); a reject requeues per the subscription unless `requeue` says otherwise.
Settle = Callable[..., None]


@dataclass(frozen=True)
class Subscription:
    queue: str
    route: TriggerRoute
    # Trigger queues reject into the broker DLX; the broker DLQ has nowhere further, so it requeues.
    requeue_when_undeliverable: bool


class RabbitDispatcher:
    def __init__(
        self,
        amqp_url: str,
        routing: RoutingTable,
        service_urls: Mapping[str, str],
        *,
        deduper: Deduper | None = None,
        backoff_scale: float | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        settings = get_settings()
        self._parameters = pika.URLParameters(amqp_url)
        self._routing = routing
        self._service_urls = dict(service_urls)
        missing = sorted(routing.services - self._service_urls.keys())
        if missing:
            raise ValueError(f"no URL for subscriber services: {', '.join(missing)}")
        self._deduper = deduper or Deduper.from_settings()
        self._backoff_scale = settings.events_backoff_scale if backoff_scale is None else backoff_scale
        self._http = httpx.Client(timeout=timeout_seconds or settings.events_delivery_timeout_seconds)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        connection = pika.BlockingConnection(self._parameters)
        try:
            declare_topology(connection.channel(), self._routing)
        finally:
            connection.close()
        for subscription in self._subscriptions():
            thread = threading.Thread(
                target=self._consume_forever, args=(subscription,), name=f"dispatch-{subscription.queue}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._http.close()

    def __enter__(self) -> RabbitDispatcher:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _subscriptions(self) -> list[Subscription]:
        subscriptions = [Subscription(trigger_queue(t.name), t, False) for t in self._routing.triggers]
        for broker in self._routing.brokers.values():
            sink = broker.delivery.dead_letter_service
            if sink is not None:
                route = TriggerRoute(
                    name=f"{broker.name}-dead-letter-queue",
                    broker=broker.name,
                    filter_attributes={},
                    subscriber_service=sink,
                    delivery=replace(broker.delivery, dead_letter_service=None),
                    parallelism=1,
                )
                subscriptions.append(Subscription(dead_letter_queue(broker.name), route, True))
        return subscriptions

    # --- consumer thread -------------------------------------------------------------------------

    def _consume_forever(self, subscription: Subscription) -> None:
        while not self._stop.is_set():
            try:
                self._consume(subscription)
            except pika.exceptions.AMQPError as error:
                log.warning("consumer of %s lost RabbitMQ (%s); reconnecting", subscription.queue, error)
                self._stop.wait(RECONNECT_DELAY_SECONDS)

    def _consume(self, subscription: Subscription) -> None:
        connection = pika.BlockingConnection(self._parameters)
        channel = connection.channel()
        channel.basic_qos(prefetch_count=subscription.route.parallelism)
        workers = ThreadPoolExecutor(subscription.route.parallelism, thread_name_prefix=subscription.queue)

        def on_message(
            channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
        ) -> None:
            settle = functools.partial(
                self._settle_threadsafe,
                connection,
                channel,
                method.delivery_tag,
                subscription.requeue_when_undeliverable,
            )
            workers.submit(self._handle, subscription, properties, body, settle)

        channel.basic_consume(subscription.queue, on_message)
        try:
            while not self._stop.is_set():
                connection.process_data_events(time_limit=POLL_SECONDS)
        finally:
            workers.shutdown(wait=True)
            if connection.is_open:
                connection.process_data_events(time_limit=0)  # run the acks the workers queued
                connection.close()

    @staticmethod
    def _settle_threadsafe(
        connection: pika.BlockingConnection, channel: BlockingChannel, tag: int, requeue: bool, ack: bool
    ) -> None:
        def settle() -> None:
            if not channel.is_open:
                return  # the message goes back to the queue with the channel: at least once
            if ack:
                channel.basic_ack(tag)
            else:
                channel.basic_reject(tag, requeue=requeue)

        connection.add_callback_threadsafe(settle)

    # --- worker threads ----------------------------------------------------------------------------

    def _handle(self, subscription: Subscription, properties: BasicProperties, body: bytes, settle: Settle) -> None:
        route = subscription.route
        try:
            attributes = attributes_from_amqp(properties.headers)
        except InvalidEvent as error:
            # Not a CloudEvent: no subscriber can take it. A Trigger queue rejects it into the broker
            # DLQ; there it is logged and dropped, since requeueing would loop forever.
            log.error("%s: rejecting a message that is not a CloudEvent (%s); body starts %r",
                      subscription.queue, error, body[:200])
            settle(False, requeue=False)
            return
        event_type, service = attributes["type"], route.subscriber_service
        metrics.EVENTS_RECEIVED.labels(event_type, service).inc()
        key = Deduper.key(route.name, attributes["source"], attributes["id"])
        if self._deduper.seen(key):
            metrics.EVENTS_PROCESSED.labels(event_type, service, "duplicate").inc()
            settle(True)
            return

        headers = http_headers_from_amqp(properties.headers, properties.content_type)
        if subscription.requeue_when_undeliverable:
            headers.update(_dead_letter_origin(properties.headers))
        started = time.perf_counter()
        outcome = self._post_with_retries(route, service, headers, body, event_type)
        if self._stop.is_set() and not outcome.delivered:
            return  # left unacked: RabbitMQ requeues it when this consumer's connection closes
        handled = outcome.delivered or self._dead_letter(route, headers, body, outcome)
        metrics.DISPATCH_SECONDS.labels(event_type, service).observe(time.perf_counter() - started)
        if handled:
            metrics.EVENTS_PROCESSED.labels(
                event_type, service, "delivered" if outcome.delivered else "dead_lettered"
            ).inc()
            self._deduper.remember(key)
        settle(handled)

    def _post_with_retries(
        self, route: TriggerRoute, service: str, headers: dict[str, str], body: bytes, event_type: str
    ) -> DeliveryOutcome:
        url = self._service_urls[service]
        return deliver_with_retries(
            lambda: self._post(url, headers, body),
            route.delivery,
            backoff_scale=self._backoff_scale,
            stop=self._stop,
            on_failure=lambda failed: metrics.DELIVERY_FAILURES.labels(
                event_type, service, "retryable" if failed.retryable else "poison"
            ).inc(),
        )

    def _dead_letter(self, route: TriggerRoute, headers: dict[str, str], body: bytes, outcome: DeliveryOutcome) -> bool:
        sink = route.delivery.dead_letter_service
        if sink is None:
            return False
        destination = self._service_urls[route.subscriber_service]
        extensions = failure_extensions(route, destination, outcome)
        letter_headers = {**headers, **{f"ce-{key}": value for key, value in extensions.items()}}
        result = self._post(self._service_urls[sink], letter_headers, body)
        if not result.ok:
            log.error(
                "dead-letter service %s refused event %s (%s %s); rejecting it into the broker DLQ",
                sink,
                headers.get("ce-id"),
                result.code,
                result.detail,
            )
            return False
        metrics.DEAD_LETTERED.labels(headers["ce-type"], route.subscriber_service).inc()
        return True

    def _post(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        try:
            response = self._http.post(url, headers=headers, content=body)
        except httpx.HTTPError as error:
            return AttemptResult(False, 0, f"{type(error).__name__}: {error}")
        if response.is_success:
            return AttemptResult(True, response.status_code)
        return AttemptResult(False, response.status_code, response.text)


def _dead_letter_origin(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Name the Trigger a broker-DLQ message came from, taken from RabbitMQ's x-death record."""
    deaths = (headers or {}).get("x-death") or []
    if not deaths:
        return {}
    queue = deaths[0].get("queue", b"")
    queue = queue.decode() if isinstance(queue, bytes) else str(queue)
    return {f"ce-{TRIGGER_EXTENSION}": queue.removeprefix(trigger_queue(""))}
