"""The RabbitMQ transport against a real RabbitMQ (own vhost) and a local HTTP subscriber."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import pika
import pytest

from shared.events.bus import InProcessBus
from shared.events.contract import make_event, parse_event
from shared.events.dedupe import Deduper
from shared.events.delivery import (
    ATTEMPTS_EXTENSION,
    ERROR_CODE_EXTENSION,
    ERROR_DATA_EXTENSION,
    ERROR_DEST_EXTENSION,
    TRIGGER_EXTENSION,
    decode_error_data,
)
from shared.events.dispatcher import RabbitDispatcher
from shared.events.rabbitmq import (
    PublishFailed,
    RabbitPublisher,
    broker_exchange,
    dead_letter_exchange,
    dead_letter_queue,
    declare_topology,
    queue_depths,
    trigger_queue,
)
from shared.events.routing import RoutingTable, load_routing
from tests.events.events import EXPECTED_SUBSCRIBERS, VALID_DATA, one_of_each
from tests.events.subscriber import Subscribers, running_subscribers

pytestmark = pytest.mark.rabbitmq
BACKOFF_SCALE = 0.01  # PT0.5S exponential -> 10, 20, 40 ms


@pytest.fixture
def routing() -> RoutingTable:
    return load_routing()


@pytest.fixture
def subscribers() -> Iterator[Subscribers]:
    with running_subscribers() as running:
        yield running


def _dispatcher(amqp_url: str, routing: RoutingTable, subscribers: Subscribers) -> RabbitDispatcher:
    """A dispatcher delivering to the local subscribers, with a memory deduper and short backoffs."""
    return RabbitDispatcher(
        amqp_url,
        routing,
        subscribers.urls(routing.services),
        recent_capacity=1000,
        backoff_scale=BACKOFF_SCALE,
    )


@pytest.fixture
def transport(amqp_url: str, routing: RoutingTable, subscribers: Subscribers) -> Iterator[RabbitPublisher]:
    dispatcher = _dispatcher(amqp_url, routing, subscribers)
    publisher = RabbitPublisher(amqp_url, routing)
    with dispatcher:
        yield publisher
    publisher.close()


def bindings(amqp_url: str) -> dict[tuple[str, str], dict[str, str]]:
    """(exchange, queue) -> binding arguments, as RabbitMQ itself reports them."""
    vhost = urlparse(amqp_url).path.lstrip("/")
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_bindings", "-p", vhost, "source_name", "destination_name", "arguments"],
        check=True,
        capture_output=True,
        text=True,
    )
    rows = (line.split("\t") for line in listed.stdout.splitlines()[1:] if line.strip())
    return {
        (source, destination): dict(re.findall(r'\{"([^"]+)","([^"]*)"\}', arguments))
        for source, destination, arguments in rows
    }


def test_topology_matches_the_routing_table_and_is_idempotent(amqp_url: str, routing: RoutingTable) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        declare_topology(connection.channel(), routing)
        declare_topology(connection.channel(), routing)
    finally:
        connection.close()
    bound = {
        pair: arguments
        for pair, arguments in bindings(amqp_url).items()
        if pair[0].startswith("t2b.broker.") and not pair[0].endswith(".dlx")
    }
    assert bound == {
        (broker_exchange(t.broker), trigger_queue(t.name)): {
            "x-match": "all",
            **{f"cloudEvents_{key}": value for key, value in t.filter_attributes.items()},
        }
        for t in routing.triggers
    }
    for broker in routing.brokers:
        assert (dead_letter_exchange(broker), dead_letter_queue(broker)) in bindings(amqp_url)
    assert all(depth == 0 for depth in queue_depths(amqp_url, routing).values())


def test_an_ml_event_reaches_its_subscriber_as_a_binary_mode_cloudevent(transport, subscribers) -> None:
    event = make_event("io.time2bet.prediction.requested", VALID_DATA["io.time2bet.prediction.requested"], source="/t")
    transport.publish(event)
    [received] = subscribers.wait_for(1, "infer")
    assert received.headers["ce-id"] == event["id"]
    assert received.headers["ce-type"] == "io.time2bet.prediction.requested"
    assert received.headers["content-type"] == "application/json"
    assert parse_event(received.event).data.request.home_team == "Arsenal"


def test_a_500_is_retried_per_the_trigger_then_dead_lettered(transport, subscribers) -> None:
    subscribers.status["infer"] = 500
    event = make_event("io.time2bet.prediction.requested", VALID_DATA["io.time2bet.prediction.requested"], source="/t")
    transport.publish(event)
    [letter] = subscribers.wait_for(1, "dead-letter")
    assert len(subscribers.to("infer")) == 4  # first attempt + retry 3
    assert letter.event["id"] == event["id"] and letter.event.get_data() == event.get_data()
    assert letter.event[ATTEMPTS_EXTENSION] == "4" and letter.event[ERROR_CODE_EXTENSION] == "500"
    assert letter.event[ERROR_DEST_EXTENSION] == subscribers.url("infer")
    assert letter.event[TRIGGER_EXTENSION] == "infer-on-prediction-requested"


def test_a_400_is_poison_dead_lettered_without_retries(transport, subscribers) -> None:
    subscribers.status["batch-score"] = 400
    event = make_event("io.time2bet.scoring.requested", VALID_DATA["io.time2bet.scoring.requested"], source="/t")
    transport.publish(event)
    [letter] = subscribers.wait_for(1, "dead-letter")
    time.sleep(0.2)  # a retry would come after 10 ms
    assert len(subscribers.to("batch-score")) == 1
    assert letter.event[ATTEMPTS_EXTENSION] == "1" and letter.event[ERROR_CODE_EXTENSION] == "400"


def test_a_multi_line_non_ascii_failure_reason_reaches_the_dead_letter_sink_whole(transport, subscribers) -> None:
    reason = "ValueError: unknown league code 'XX'\n  hint: try «E0» or «SP1», not «Ligue 1»\n"
    subscribers.status["batch-score"] = 400
    subscribers.reasons["batch-score"] = reason
    event = make_event("io.time2bet.scoring.requested", VALID_DATA["io.time2bet.scoring.requested"], source="/t")
    transport.publish(event)
    [letter] = subscribers.wait_for(1, "dead-letter")
    assert decode_error_data(letter.event[ERROR_DATA_EXTENSION]) == reason


def test_a_redelivered_duplicate_reaches_the_subscriber_once(transport, subscribers) -> None:
    event = make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/t")
    transport.publish(event)
    subscribers.wait_for(1, "cache-ops")
    transport.publish(event)
    marker = make_event("io.time2bet.cache.invalidate", {"scope": "stats"}, source="/t")
    transport.publish(marker)  # parallelism 10 does not keep order: wait for the marker, then settle
    subscribers.wait_for(2, "cache-ops")
    time.sleep(0.2)
    assert [r.event["id"] for r in subscribers.to("cache-ops")].count(event["id"]) == 1


def test_when_the_dead_letter_sink_fails_too_the_event_is_kept_in_the_broker_dlq(
    amqp_url, routing, subscribers
) -> None:
    subscribers.status["scrape"] = 400
    subscribers.status["dead-letter"] = 503
    publisher = RabbitPublisher(amqp_url, routing)
    dispatcher = _dispatcher(amqp_url, routing, subscribers)
    with dispatcher:
        publisher.publish(make_event("io.time2bet.scrape.requested", {"league": "E0"}, source="/t"))
        # trigger DLS once, then the broker-DLQ consumer: 1 + retry 3, again and again while it fails
        subscribers.wait_for(5, "dead-letter")
        subscribers.status["dead-letter"] = 200
        deadline = time.monotonic() + 5
        while queue_depths(amqp_url, routing)["t2b.broker.api.dlq"] or not _ok_after_outage(subscribers):
            assert time.monotonic() < deadline, "the broker DLQ never drained into the dead-letter service"
            time.sleep(0.05)
        # every queue empty while the dispatcher still runs: a copy in flight between the retry and dead-letter
        # queues (its ack not yet counted) on a loaded machine is not a loss
        while any(queue_depths(amqp_url, routing).values()):
            assert time.monotonic() < deadline + 10, f"left in the broker: {queue_depths(amqp_url, routing)}"
            time.sleep(0.05)
    publisher.close()


def _ok_after_outage(subscribers: Subscribers) -> bool:
    return any(
        r.headers.get(f"ce-{TRIGGER_EXTENSION}") == "scrape-on-scrape-requested"
        for r in subscribers.to("dead-letter")
        if "ce-knativeerrorcode" not in r.headers
    )


def test_in_process_bus_and_rabbitmq_deliver_the_same_routes(transport, subscribers, routing) -> None:
    events = one_of_each()
    in_process: set[tuple[str, str]] = set()

    def recording(service: str):
        return lambda event: in_process.add((event["type"], service))

    bus = InProcessBus(
        routing,
        {service: recording(service) for service in routing.services},
        deduper=Deduper(None, "t2b:", 60, 1000),
        backoff_scale=0,
    )
    for event in events:
        bus.publish(event)
        transport.publish(event)
    expected = {(t, s) for t, services in EXPECTED_SUBSCRIBERS.items() for s in services}
    received = subscribers.wait_for(len(expected))
    time.sleep(0.2)
    over_rabbitmq = {(r.event["type"], r.service) for r in subscribers.received}
    assert in_process == over_rabbitmq == expected
    assert len(received) == len(expected)


def test_a_message_that_is_not_a_cloudevent_is_dropped_not_looped(amqp_url, routing, subscribers) -> None:
    dispatcher = _dispatcher(amqp_url, routing, subscribers)
    with dispatcher:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        connection.channel().basic_publish(
            broker_exchange("api"),
            "",
            b"{}",
            pika.BasicProperties(headers={"cloudEvents_type": "io.time2bet.cache.invalidate"}),
        )
        connection.close()
        time.sleep(0.5)
        assert all(depth == 0 for depth in queue_depths(amqp_url, routing).values())
    assert subscribers.received == []


def test_a_refused_publish_raises_and_the_publisher_recovers(amqp_url: str, routing: RoutingTable) -> None:
    """RabbitMQ closing the confirm channel (an exchange that does not exist: 404) refuses the events it had
    not confirmed, and the next publish opens a new channel instead of failing forever."""
    broker = next(iter(routing.brokers.values()))
    ghost = dataclasses.replace(broker, name=f"ghost-{uuid.uuid4().hex[:8]}")
    with_ghost = dataclasses.replace(routing, brokers={**routing.brokers, ghost.name: ghost})
    event = make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/t")
    publisher = RabbitPublisher(amqp_url, with_ghost)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        with pytest.raises(PublishFailed, match="NOT_FOUND"):
            publisher.publish_many([event, event], ghost.name)
        connection.channel().exchange_declare(broker_exchange(ghost.name), exchange_type="headers")
        publisher.publish(event, ghost.name)  # routed nowhere, but confirmed
    finally:
        connection.channel().exchange_delete(broker_exchange(ghost.name))
        connection.close()
        publisher.close()
