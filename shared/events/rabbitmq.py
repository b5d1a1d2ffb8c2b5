"""RabbitMQ laid out as eventing-rabbitmq lays it out, from the same routing table.

Per broker a headers exchange `t2b.broker.<name>` and a dead-letter exchange + queue; per Trigger a
durable queue `t2b.trigger.<name>` bound with its filter attributes as CloudEvents AMQP headers and
`x-match: all`. A Trigger queue dead-letters into its broker's DLX, which is where events land when
even the Trigger's dead-letter sink cannot take them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import aiormq
import aiormq.abc
import pika
from cloudevents.http import CloudEvent
from pika.adapters.blocking_connection import BlockingChannel

from shared.events import metrics
from shared.events.amqp import header_key, to_amqp
from shared.events.contract import contract_type, spec_for
from shared.events.routing import BrokerRoute, RoutingTable, TriggerRoute

log = logging.getLogger(__name__)

PERSISTENT = 2  # AMQP delivery-mode: written to disk, survives a broker restart
# Unconfirmed messages one publisher keeps in flight before a publish waits (backpressure).
MAX_IN_FLIGHT = 2048
# How long a publish waits on flow control (connection.blocked or max_in_flight) before it gives up: an
# HTTP caller then answers 503 with Retry-After rather than hold its request.
BLOCKED_WAIT_SECONDS = 2.0
CONFIRM_TIMEOUT_SECONDS = 5.0
BLOCKED_PROBE_SECONDS = 0.05  # ready() answers at once on a connection that is not blocked
CONNECT_TIMEOUT_SECONDS = 3.0
CONNECTION_ERRORS = (aiormq.exceptions.AMQPConnectionError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError)


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


class BrokerUnreachable(ConnectionError):
    """RabbitMQ did not answer at AMQP_URL: a temporary failure (the CLI exits 75)."""


def blocking_connection(amqp_url: str) -> pika.BlockingConnection:
    """A pika connection, or BrokerUnreachable naming host:port instead of pika's bare exception chain."""
    parameters = pika.URLParameters(amqp_url)
    try:
        return pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPConnectionError as error:
        raise BrokerUnreachable(
            f"RabbitMQ is unreachable at {parameters.host}:{parameters.port} (AMQP_URL): {_root_cause(error)}"
        ) from None


def declare_topology_at(amqp_url: str, routing: RoutingTable) -> None:
    """declare_topology on a connection of its own, closed afterwards."""
    connection = blocking_connection(amqp_url)
    try:
        declare_topology(connection.channel(), routing)
    finally:
        connection.close()


def _root_cause(error: BaseException) -> str:
    """pika nests the socket error in workflow errors: "[Errno 111] Connection refused" is what people need."""
    while True:
        nested = [getattr(error, "exception", None), *(getattr(error, "exceptions", None) or error.args)[-1:]]
        inner = next((candidate for candidate in nested if isinstance(candidate, BaseException)), None)
        if inner is None:
            return str(error).strip() or type(error).__name__
        error = inner


def queue_depths(amqp_url: str, routing: RoutingTable) -> dict[str, int]:
    """Messages ready per queue; also sets the queue-depth gauge."""
    connection = blocking_connection(amqp_url)
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


class BrokerBlocked(RuntimeError):
    """RabbitMQ's flow control (connection.blocked: a memory or disk alarm) held the publish past its bound."""


class PublishFailed(RuntimeError):
    """RabbitMQ did not confirm the message (nack, no confirm in time, or the connection lost twice)."""


@dataclass(frozen=True)
class OutgoingMessage:
    event_id: str
    event_type: str
    broker: str
    body: bytes
    properties: aiormq.spec.Basic.Properties


class RabbitPublisher:
    """Publishes CloudEvents to broker exchanges with pipelined publisher confirms (at least once).

    One connection and one confirm channel per process, driven by an event loop on a thread of its
    own. A publish is written at once and its confirm awaited as a future, so concurrent callers (the
    threads of an HTTP function) and publish_many keep up to `max_in_flight` messages unconfirmed
    while RabbitMQ confirms them in batches (`multiple`). A caller returns once its own messages are
    confirmed. Backpressure, never a drop: past `max_in_flight`, or while RabbitMQ blocks the
    connection (connection.blocked), a publish waits up to `blocked_wait_seconds` and then raises
    BrokerBlocked; the caller answers 503 with Retry-After. A lost connection is reopened once per
    call and the unconfirmed messages published again (consumers dedupe the copies).
    """

    def __init__(
        self,
        amqp_url: str,
        routing: RoutingTable,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        blocked_wait_seconds: float = BLOCKED_WAIT_SECONDS,
        confirm_timeout_seconds: float = CONFIRM_TIMEOUT_SECONDS,
    ) -> None:
        self._url = amqp_url
        self._routing = routing
        self._max_in_flight = max_in_flight
        self._blocked_wait_seconds = blocked_wait_seconds
        self._confirm_timeout_seconds = confirm_timeout_seconds
        self._start_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # Made on the loop thread, used only there.
        self._connection: aiormq.abc.AbstractConnection | None = None
        self._channel: aiormq.abc.AbstractChannel | None = None
        self._connect_lock: asyncio.Lock | None = None
        self._in_flight: asyncio.Semaphore | None = None

    def publish(self, event: CloudEvent, broker: str | None = None) -> None:
        self.publish_many([event], broker)

    def publish_many(self, events: Sequence[CloudEvent], broker: str | None = None) -> None:
        """Publish all, wait for all their confirms; raises BrokerBlocked, PublishFailed or an AMQP/OS error."""
        messages = [self._message(event, broker) for event in events]
        if not messages:
            return
        bound = self._blocked_wait_seconds + self._confirm_timeout_seconds * 2 + CONNECT_TIMEOUT_SECONDS * 2
        asyncio.run_coroutine_threadsafe(self._publish_all(messages), self._running_loop()).result(bound)
        for message in messages:
            metrics.EVENTS_PUBLISHED.labels(message.event_type, message.broker).inc()

    def close(self) -> None:
        with self._start_lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):  # closing a broken connection may fail: the loop ends anyway
            asyncio.run_coroutine_threadsafe(self._drop_connection(), loop).result(CONNECT_TIMEOUT_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CONNECT_TIMEOUT_SECONDS)
        loop.close()

    def _message(self, event: CloudEvent, broker: str | None) -> OutgoingMessage:
        broker = broker or spec_for(contract_type(event)).broker
        if broker not in self._routing.brokers:
            raise ValueError(f"unknown broker {broker!r} (known: {', '.join(sorted(self._routing.brokers))})")
        headers, content_type, body = to_amqp(event)
        properties = aiormq.spec.Basic.Properties(
            headers=headers, content_type=content_type, delivery_mode=PERSISTENT, message_id=event["id"]
        )
        return OutgoingMessage(event["id"], event["type"], broker, body, properties)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="t2b-amqp-publisher", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    # --- on the loop thread ------------------------------------------------------------------------

    async def _publish_all(self, messages: list[OutgoingMessage]) -> None:
        pending = messages
        for attempt in (1, 2):
            channel = await self._ready_channel()
            outcomes = await asyncio.gather(*(self._publish_one(channel, m) for m in pending), return_exceptions=True)
            failures = [(m, o) for m, o in zip(pending, outcomes, strict=True) if isinstance(o, BaseException)]
            if not failures:
                return
            lost = [m for m, error in failures if isinstance(error, CONNECTION_ERRORS)]
            refused = [error for _, error in failures if not isinstance(error, CONNECTION_ERRORS)]
            if refused or attempt == 2:
                raise (refused or [error for _, error in failures])[0]
            log.warning("RabbitMQ connection lost with %d messages unconfirmed; reconnecting once", len(lost))
            await self._drop_connection()
            pending = lost

    async def _publish_one(self, channel: aiormq.abc.AbstractChannel, message: OutgoingMessage) -> None:
        assert self._in_flight is not None
        try:
            await asyncio.wait_for(self._in_flight.acquire(), self._blocked_wait_seconds)
        except TimeoutError:
            raise BrokerBlocked(
                f"{self._max_in_flight} messages unconfirmed for {self._blocked_wait_seconds:.1f} s"
            ) from None
        try:
            confirmation = await channel.basic_publish(
                message.body,
                exchange=broker_exchange(message.broker),
                properties=message.properties,
                timeout=self._confirm_timeout_seconds,
            )
        except TimeoutError:
            if await self._blocked(channel):
                raise BrokerBlocked(
                    f"RabbitMQ blocked the connection (flow control) before confirming event {message.event_id}"
                ) from None
            raise PublishFailed(
                f"event {message.event_id} not confirmed within {self._confirm_timeout_seconds} s"
            ) from None
        finally:
            self._in_flight.release()
        if not isinstance(confirmation, aiormq.spec.Basic.Ack):
            raise PublishFailed(f"RabbitMQ refused event {message.event_id}: {confirmation!r}")

    async def _ready_channel(self) -> aiormq.abc.AbstractChannel:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
            self._in_flight = asyncio.Semaphore(self._max_in_flight)
        async with self._connect_lock:
            if self._channel is None or self._channel.is_closed or self._connection is None:
                await self._drop_connection()
                self._connection = await asyncio.wait_for(aiormq.connect(self._url), CONNECT_TIMEOUT_SECONDS)
                self._channel = await self._connection.channel(publisher_confirms=True)
            connection, channel = self._connection, self._channel
        try:
            await asyncio.wait_for(connection.ready(), self._blocked_wait_seconds)  # returns at once unless blocked
        except TimeoutError:
            raise BrokerBlocked(
                f"RabbitMQ has blocked publishing (flow control) for over {self._blocked_wait_seconds:.1f} s"
            ) from None
        return channel

    @staticmethod
    async def _blocked(channel: aiormq.abc.AbstractChannel) -> bool:
        """Whether RabbitMQ holds the connection blocked (connection.blocked and no unblocked since)."""
        try:
            await asyncio.wait_for(channel.connection.ready(), BLOCKED_PROBE_SECONDS)
        except TimeoutError:
            return not channel.connection.is_closed
        return False

    async def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_SECONDS)
            except (*CONNECTION_ERRORS, TimeoutError):
                log.debug("closing a broken RabbitMQ connection failed", exc_info=True)
