"""RabbitMQ laid out as eventing-rabbitmq lays it out, from the same routing table.

Per broker a headers exchange `t2b.broker.<name>` and a dead-letter exchange + queue; per Trigger a
durable queue `t2b.trigger.<name>` bound with its filter attributes as CloudEvents AMQP headers and
`x-match: all`. A Trigger queue dead-letters into its broker's DLX, which is where events land when
even the Trigger's dead-letter sink cannot take them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pika
import pika.exceptions
from cloudevents.http import CloudEvent
from pika.adapters.blocking_connection import BlockingChannel

from shared.events import metrics
from shared.events.amqp import header_key, to_amqp
from shared.events.contract import contract_type, spec_for
from shared.events.routing import BrokerRoute, RoutingTable, TriggerRoute

log = logging.getLogger(__name__)

PERSISTENT = pika.DeliveryMode.Persistent


def broker_exchange(broker: str) -> str:
    return f"t2b.broker.{broker}"


def dead_letter_exchange(broker: str) -> str:
    return f"t2b.broker.{broker}.dlx"


def dead_letter_queue(broker: str) -> str:
    return f"t2b.broker.{broker}.dlq"


def trigger_queue(trigger: str) -> str:
    return f"t2b.trigger.{trigger}"


def binding_arguments(trigger: TriggerRoute) -> dict[str, str]:
    return {"x-match": "all", **{header_key(key): value for key, value in trigger.filter_attributes.items()}}


def declare_topology(channel: BlockingChannel, routing: RoutingTable) -> None:
    """Declare exchanges, queues and bindings; safe to repeat (RabbitMQ declarations are idempotent).

    A changed filter adds a second binding rather than replacing the first: as with Knative's
    RabbitMQ Trigger, change a filter by renaming the Trigger.
    """
    for broker in routing.brokers.values():
        channel.exchange_declare(broker_exchange(broker.name), exchange_type="headers", durable=True)
        channel.exchange_declare(dead_letter_exchange(broker.name), exchange_type="fanout", durable=True)
        channel.queue_declare(
            dead_letter_queue(broker.name), durable=True, arguments={"x-queue-type": broker.queue_type}
        )
        channel.queue_bind(dead_letter_queue(broker.name), dead_letter_exchange(broker.name))
    for trigger in routing.triggers:
        broker = routing.brokers[trigger.broker]
        channel.queue_declare(trigger_queue(trigger.name), durable=True, arguments=_trigger_queue_arguments(broker))
        channel.queue_bind(
            trigger_queue(trigger.name), broker_exchange(broker.name), arguments=binding_arguments(trigger)
        )


def _trigger_queue_arguments(broker: BrokerRoute) -> dict[str, str]:
    return {"x-queue-type": broker.queue_type, "x-dead-letter-exchange": dead_letter_exchange(broker.name)}


def all_queues(routing: RoutingTable) -> Iterator[str]:
    yield from (trigger_queue(trigger.name) for trigger in routing.triggers)
    yield from (dead_letter_queue(broker) for broker in routing.brokers)


def queue_depths(amqp_url: str, routing: RoutingTable) -> dict[str, int]:
    """Messages ready per queue; also sets the queue-depth gauge."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        depths = {
            queue: channel.queue_declare(queue, passive=True).method.message_count for queue in all_queues(routing)
        }
    finally:
        connection.close()
    for queue, depth in depths.items():
        metrics.QUEUE_DEPTH.labels(queue).set(depth)
    return depths


class RabbitPublisher:
    """Publishes CloudEvents to a broker exchange with publisher confirms (at least once).

    pika connections are not thread-safe, so publishing is serialised; a lost connection is
    reopened once per publish.
    """

    def __init__(self, amqp_url: str, routing: RoutingTable) -> None:
        self._parameters = pika.URLParameters(amqp_url)
        self._routing = routing
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def publish(self, event: CloudEvent, broker: str | None = None) -> None:
        broker = broker or spec_for(contract_type(event)).broker
        if broker not in self._routing.brokers:
            raise ValueError(f"unknown broker {broker!r} (known: {', '.join(sorted(self._routing.brokers))})")
        headers, content_type, body = to_amqp(event)
        properties = pika.BasicProperties(
            headers=headers, content_type=content_type, delivery_mode=PERSISTENT, message_id=event["id"]
        )
        with self._lock:
            try:
                self._open_channel().basic_publish(broker_exchange(broker), "", body, properties)
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
                log.warning("RabbitMQ connection lost while publishing %s; reconnecting once", event["id"])
                self._drop_connection()
                self._open_channel().basic_publish(broker_exchange(broker), "", body, properties)
        metrics.EVENTS_PUBLISHED.labels(event["type"], broker).inc()

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _open_channel(self) -> BlockingChannel:
        if self._channel is None or self._channel.is_closed:
            self._drop_connection()
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def _drop_connection(self) -> None:
        if self._connection is not None and self._connection.is_open:
            try:
                self._connection.close()
            except pika.exceptions.AMQPError:
                log.debug("closing a broken RabbitMQ connection failed", exc_info=True)
        self._connection = self._channel = None
