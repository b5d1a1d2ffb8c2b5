"""Consumes the Trigger queues and delivers each event over HTTP, as eventing-rabbitmq's dispatcher does.

One asyncio loop (on a thread of its own, or a process's main thread) owns one RabbitMQ connection
with a channel per Trigger queue. Each channel's prefetch is the Trigger's parallelism and a
semaphore of the same size bounds the deliveries running at once, so a Trigger never has more than
`parallelism` events in flight. Each subscriber Service has its own aiohttp keep-alive pool, as large
as the parallelism of the Triggers that feed it (aiohttp, not httpx: 3-10x the requests/s per core
measured here against the same no-op subscriber). A delivery is a binary-mode CloudEvent POST: 2xx
acks; 5xx, 408, 429 and network errors are retried with the Trigger's backoff; then (or at once on
any other 4xx, a poison event) the event is POSTed to the Trigger's dead-letter service with the
failure extensions and acked. If the dead-letter service fails as well the message is rejected into
the broker's dead-letter queue, whose consumer keeps it until the broker's dead-letter sink takes it.
A message is acked only after that outcome: a dispatcher that dies mid-delivery leaves it unacked and
RabbitMQ delivers it again. One effect per event id is the subscriber's to keep, as with Knative: every
event function dedupes in Redis before its work (shared/tasks/handler.py). The dispatcher only remembers,
in its own memory, the ids it delivered, so a copy it meets again (a publisher's retry after a lost
connection, a redelivery while it runs) is acked without a second POST; a Redis round trip per event
here cost a quarter of the dispatcher's CPU and bought nothing the function does not check anyway. Given
`credentials` (the local runtime's issuer) every POST carries `Authorization: Bearer`, a token of the
Trigger it delivers for and for the target's audience in the manifest, as Knative's authentication-oidc does.

    python -m shared.events.dispatcher SERVICE=URL ...     (AMQP_URL from the settings; stops on SIGTERM)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import aiormq
import aiormq.abc
import uvloop

from shared.config import get_settings
from shared.events import metrics
from shared.events.amqp import attributes_from_amqp, http_headers_from_amqp
from shared.events.auth import SenderCredentials
from shared.events.contract import InvalidEvent
from shared.events.dedupe import Deduper, LocalSeen
from shared.events.delivery import (
    TRIGGER_EXTENSION,
    AttemptResult,
    DeliveryOutcome,
    deliver_with_retries_async,
    failure_extensions,
)
from shared.events.rabbitmq import (
    CONNECT_TIMEOUT_SECONDS,
    CONNECTION_ERRORS,
    dead_letter_queue,
    declare_topology_at,
    trigger_queue,
)
from shared.events.routing import RoutingTable, TriggerRoute, load_routing

log = logging.getLogger(__name__)

RECONNECT_DELAY_SECONDS = 1.0
START_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Subscription:
    queue: str
    route: TriggerRoute
    # Trigger queues reject into the broker DLX; the broker DLQ has nowhere further, so it requeues.
    requeue_when_undeliverable: bool
    sender: tuple[str, str]  # (kind, name) of the Knative object delivering: its Trigger, or the Broker for its DLQ


class RabbitDispatcher:
    def __init__(
        self,
        amqp_url: str,
        routing: RoutingTable,
        service_urls: Mapping[str, str],
        *,
        recent_capacity: int | None = None,
        backoff_scale: float | None = None,
        timeout_seconds: float | None = None,
        credentials: SenderCredentials | None = None,
    ) -> None:
        settings = get_settings()
        self._amqp_url = amqp_url
        self._routing = routing
        self._service_urls = dict(service_urls)
        missing = sorted(routing.services - self._service_urls.keys())
        if missing:
            raise ValueError(f"no URL for subscriber services: {', '.join(missing)}")
        self._delivered = LocalSeen(recent_capacity or settings.events_dedupe_local_size)
        self._backoff_scale = settings.events_backoff_scale if backoff_scale is None else backoff_scale
        self._timeout_seconds = timeout_seconds or settings.events_delivery_timeout_seconds
        self._credentials = credentials  # None: deliveries carry no token (Knative without authentication-oidc)
        self._subscriptions = self._subscriptions_of(routing)
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()  # bound to the loop that first waits on it
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._handlers: set[asyncio.Task[None]] = set()

    # --- from other threads ----------------------------------------------------------------------

    def start(self) -> None:
        """Declare the topology and consume on a thread of its own; returns once the loop runs."""
        self.declare()
        self._thread = threading.Thread(target=run_on_uvloop, args=(self.run(),), name="dispatcher", daemon=True)
        self._thread.start()
        if not self._started.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError(f"the dispatcher loop did not start within {START_TIMEOUT_SECONDS:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, let deliveries in flight finish and ack, then close."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> RabbitDispatcher:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def declare(self) -> None:
        declare_topology_at(self._amqp_url, self._routing)

    @staticmethod
    def _subscriptions_of(routing: RoutingTable) -> list[Subscription]:
        subscriptions = [Subscription(trigger_queue(t.name), t, False, ("Trigger", t.name)) for t in routing.triggers]
        for broker in routing.brokers.values():
            sink = broker.delivery.dead_letter_service
            if sink is not None:
                route = TriggerRoute(
                    name=f"{broker.name}-dead-letter-queue",
                    broker=broker.name,
                    filter_attributes={},
                    subscriber_service=sink,
                    delivery=replace(broker.delivery, dead_letter_service=None),
                    parallelism=1,
                    subscriber_audience=broker.delivery.dead_letter_audience,
                )
                subscriptions.append(Subscription(dead_letter_queue(broker.name), route, True, ("Broker", broker.name)))
        return subscriptions

    # --- on the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until stop(): reconnects after a lost connection, keeps the HTTP pools meanwhile."""
        self._loop = asyncio.get_running_loop()
        self._sessions = self._http_pools()
        self._started.set()
        try:
            while not self._stopping.is_set():
                try:
                    await self._consume()
                except (*CONNECTION_ERRORS, OSError, TimeoutError) as error:
                    log.warning("dispatcher lost RabbitMQ (%s: %s); reconnecting", type(error).__name__, error)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), RECONNECT_DELAY_SECONDS)
        finally:
            for session in self._sessions.values():
                await session.close()

    def _http_pools(self) -> dict[str, aiohttp.ClientSession]:
        """One keep-alive pool per subscriber Service, as many connections as deliveries can run to it."""
        sizes = Counter[str]()
        for subscription in self._subscriptions:
            sizes[subscription.route.subscriber_service] += subscription.route.parallelism
            if subscription.route.delivery.dead_letter_service is not None:
                sizes[subscription.route.delivery.dead_letter_service] += subscription.route.parallelism
        return {
            service: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=sizes[service] or 1),
                timeout=aiohttp.ClientTimeout(total=self._timeout_seconds),
                # The event's own content-type (its datacontenttype) or none: never a default one.
                skip_auto_headers=("Content-Type",),
            )
            for service in self._service_urls
        }

    async def run_until_signalled(self) -> None:
        """run() in a process of its own: SIGTERM or SIGINT stops it as stop() does."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        await self.run()

    async def _consume(self) -> None:
        connection = await asyncio.wait_for(aiormq.connect(self._amqp_url), CONNECT_TIMEOUT_SECONDS)
        try:
            for subscription in self._subscriptions:
                channel = await connection.channel()
                await channel.basic_qos(prefetch_count=subscription.route.parallelism)
                limit = asyncio.Semaphore(subscription.route.parallelism)
                await channel.basic_consume(
                    subscription.queue, self._receiver(subscription, channel, limit), no_ack=False
                )
            stopping = asyncio.ensure_future(self._stopping.wait())
            await asyncio.wait([stopping, connection.closing], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not self._stopping.is_set():
                raise ConnectionError(f"RabbitMQ closed the connection: {_why_closed(connection)}")
            await self._drain()
        finally:
            if not connection.is_closed:
                with contextlib.suppress(*CONNECTION_ERRORS, TimeoutError):
                    await asyncio.wait_for(connection.close(), CONNECT_TIMEOUT_SECONDS)

    async def _drain(self) -> None:
        """Deliveries in flight when stopping end (a retry wait ends at once, unacked) and settle."""
        if self._handlers:
            await asyncio.wait(set(self._handlers), timeout=self._timeout_seconds)

    def _receiver(
        self, subscription: Subscription, channel: aiormq.abc.AbstractChannel, limit: asyncio.Semaphore
    ) -> aiormq.abc.ConsumerCallback:
        async def on_message(message: aiormq.abc.DeliveredMessage) -> None:
            task = asyncio.ensure_future(self._handle(subscription, channel, limit, message))
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)

        return on_message

    async def _handle(
        self,
        subscription: Subscription,
        channel: aiormq.abc.AbstractChannel,
        limit: asyncio.Semaphore,
        message: aiormq.abc.DeliveredMessage,
    ) -> None:
        async with limit:
            handled = await self._deliver(subscription, message)
        if handled is None:
            return  # left unacked: RabbitMQ requeues it when this connection closes
        tag = message.delivery.delivery_tag
        try:
            # Not waiting for the socket to drain: the ack is queued in order on the connection either way.
            if handled:
                await channel.basic_ack(tag, wait=False)
            else:
                await channel.basic_reject(tag, requeue=subscription.requeue_when_undeliverable, wait=False)
        except (*CONNECTION_ERRORS, aiormq.exceptions.AMQPError) as error:
            # The message goes back to the queue with the channel: at least once.
            log.warning("could not settle a message of %s (%s); RabbitMQ redelivers it", subscription.queue, error)

    async def _deliver(self, subscription: Subscription, message: aiormq.abc.DeliveredMessage) -> bool | None:
        """True: delivered or dead-lettered (ack). False: undeliverable (reject). None: stopping (leave)."""
        route, properties, body = subscription.route, message.header.properties, message.body
        try:
            attributes = attributes_from_amqp(properties.headers)
        except InvalidEvent as error:
            # Not a CloudEvent: no subscriber can take it. A Trigger queue rejects it into the broker
            # DLQ; there it is logged and dropped, since requeueing would loop forever.
            log.error(
                "%s: rejecting a message that is not a CloudEvent (%s); body starts %r",
                subscription.queue,
                error,
                body[:200],
            )
            return subscription.requeue_when_undeliverable  # on the DLQ an ack is what drops it
        event_type, service = attributes["type"], route.subscriber_service
        metrics.EVENTS_RECEIVED.labels(event_type, service).inc()
        key = Deduper.key(route.name, attributes["source"], attributes["id"])
        if key in self._delivered:
            metrics.EVENTS_PROCESSED.labels(event_type, service, "duplicate").inc()
            return True

        headers = http_headers_from_amqp(properties.headers, properties.content_type)
        if subscription.requeue_when_undeliverable:
            headers.update(_dead_letter_origin(properties.headers))
        started = time.perf_counter()
        outcome = await deliver_with_retries_async(
            lambda: self._post(service, {**headers, **self._signed(subscription, route.subscriber_audience)}, body),
            route.delivery,
            backoff_scale=self._backoff_scale,
            stop=self._stopping,
            on_failure=lambda failed: metrics.DELIVERY_FAILURES.labels(
                event_type, service, "retryable" if failed.retryable else "poison"
            ).inc(),
        )
        if self._stopping.is_set() and not outcome.delivered:
            return None
        handled = outcome.delivered or await self._dead_letter(subscription, headers, body, outcome)
        metrics.DISPATCH_SECONDS.labels(event_type, service).observe(time.perf_counter() - started)
        if handled:
            metrics.EVENTS_PROCESSED.labels(
                event_type, service, "delivered" if outcome.delivered else "dead_lettered"
            ).inc()
            self._delivered.add(key)
        return handled

    async def _dead_letter(
        self, subscription: Subscription, headers: dict[str, str], body: bytes, outcome: DeliveryOutcome
    ) -> bool:
        route = subscription.route
        sink = route.delivery.dead_letter_service
        if sink is None:
            return False
        destination = self._service_urls[route.subscriber_service]
        extensions = failure_extensions(route, destination, outcome)
        letter_headers = {
            **headers,
            **{f"ce-{key}": value for key, value in extensions.items()},
            **self._signed(subscription, route.delivery.dead_letter_audience),
        }
        result = await self._post(sink, letter_headers, body)
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

    def _signed(self, subscription: Subscription, audience: str | None) -> dict[str, str]:
        """The sender's token for one attempt (tokens are cached: an attempt signs only when one nears expiry)."""
        if self._credentials is None:
            return {}
        return self._credentials.headers(*subscription.sender, audience)

    async def _post(self, service: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        try:
            async with self._sessions[service].post(self._service_urls[service], headers=headers, data=body) as answer:
                detail = await answer.text(errors="replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            return AttemptResult(False, 0, f"{type(error).__name__}: {error}")
        if 200 <= answer.status < 300:
            return AttemptResult(True, answer.status)
        return AttemptResult(False, answer.status, detail)


def run_on_uvloop(main: Coroutine[Any, Any, None]) -> None:
    """asyncio.run on uvloop: the dispatcher is all loop work (AMQP frames, HTTP), which uvloop does in C."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _dead_letter_origin(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Name the Trigger a broker-DLQ message came from, taken from RabbitMQ's x-death record."""
    deaths = (headers or {}).get("x-death") or []
    if not deaths:
        return {}
    queue = deaths[0].get("queue", b"")
    queue = queue.decode() if isinstance(queue, bytes) else str(queue)
    return {f"ce-{TRIGGER_EXTENSION}": queue.removeprefix(trigger_queue(""))}


def _why_closed(connection: aiormq.abc.AbstractConnection) -> str:
    closing = connection.closing
    if not closing.done() or closing.cancelled():
        return "closed"
    return repr(closing.exception() or "closed")


def main(arguments: list[str]) -> None:
    """Run the dispatcher in this process until SIGTERM or SIGINT (what a dispatcher pod does)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    amqp_url = get_settings().amqp_url
    if not amqp_url:
        raise SystemExit("AMQP_URL is not set")
    service_urls = dict(argument.split("=", 1) for argument in arguments)
    routing = load_routing()
    served = RoutingTable(
        brokers=routing.brokers,
        triggers=tuple(t for t in routing.triggers if t.subscriber_service in service_urls),
        pingsources=routing.pingsources,
    )
    dispatcher = RabbitDispatcher(amqp_url, served, service_urls)
    dispatcher.declare()
    run_on_uvloop(dispatcher.run_until_signalled())


if __name__ == "__main__":
    main(sys.argv[1:])
