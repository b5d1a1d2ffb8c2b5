"""The in-process bus: routing per the manifests, retry then dead letter, dedupe (Redis and without)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

import pytest
from cloudevents.http import CloudEvent

from shared.events.bus import InProcessBus
from shared.events.contract import InvalidEvent, make_event, parse_event
from shared.events.dedupe import Deduper
from shared.events.delivery import (
    ATTEMPTS_EXTENSION,
    ERROR_CODE_EXTENSION,
    ERROR_DATA_EXTENSION,
    TRIGGER_EXTENSION,
    decode_error_data,
)
from shared.events.routing import RoutingTable, load_routing
from tests.events.events import EXPECTED_SUBSCRIBERS, VALID_DATA, one_of_each
from tests.services import free_port

BACKOFF_SCALE = 0.001  # PT0.5S exponential -> 1, 2, 4 ms


class Recorder:
    """Handlers for every service; each records what it got and can be told to fail."""

    def __init__(self, services: set[str]) -> None:
        self.calls: dict[str, list[CloudEvent]] = defaultdict(list)
        self.fail: dict[str, Exception] = {}
        self.handlers: dict[str, Callable[[CloudEvent], None]] = {name: self._handler(name) for name in services}

    def _handler(self, service: str) -> Callable[[CloudEvent], None]:
        def handle(event: CloudEvent) -> None:
            self.calls[service].append(event)
            if service in self.fail:
                raise self.fail[service]
            if service != "dead-letter":
                parse_event(event)  # subscribers validate, as the real functions do

        return handle


@pytest.fixture
def routing() -> RoutingTable:
    return load_routing()


@pytest.fixture
def recorder(routing: RoutingTable) -> Recorder:
    return Recorder(routing.services)


def local_deduper() -> Deduper:
    return Deduper(None, "t2b:", 60, 1000)


def make_bus(routing: RoutingTable, recorder: Recorder, deduper: Deduper | None = None) -> InProcessBus:
    return InProcessBus(routing, recorder.handlers, deduper=deduper or local_deduper(), backoff_scale=BACKOFF_SCALE)


def test_each_event_type_reaches_the_subscribers_the_manifests_name(routing, recorder) -> None:
    bus = make_bus(routing, recorder)
    for event in one_of_each():
        results = bus.publish(event)
        assert {r.service for r in results} == EXPECTED_SUBSCRIBERS[event["type"]], event["type"]
        assert all(r.outcome == "delivered" and r.attempts == 1 for r in results)
    delivered = {(e["type"], service) for service, events in recorder.calls.items() for e in events}
    assert delivered == {(t, s) for t, services in EXPECTED_SUBSCRIBERS.items() for s in services}
    assert "dead-letter" not in recorder.calls


def test_the_scrape_schedule_ping_reaches_scrape(routing, recorder) -> None:
    ping = routing.pingsources[0]
    results = make_bus(routing, recorder).publish(ping.to_event("time2bet"), broker=ping.sink_broker)
    assert [(r.trigger, r.outcome) for r in results] == [("scrape-on-schedule", "delivered")]
    assert parse_event(recorder.calls["scrape"][0]).data.league is None  # every configured league


def test_a_failing_subscriber_is_retried_then_dead_lettered_with_the_attempts(routing, recorder) -> None:
    recorder.fail["infer"] = RuntimeError("model store unreachable")
    event = make_event("io.time2bet.prediction.requested", VALID_DATA["io.time2bet.prediction.requested"], source="/t")
    [result] = make_bus(routing, recorder).publish(event)
    assert (result.outcome, result.attempts) == ("dead_lettered", 4)  # 1 + retry 3
    assert len(recorder.calls["infer"]) == 4
    [letter] = recorder.calls["dead-letter"]
    assert letter["id"] == event["id"] and letter.get_data() == event.get_data()
    assert letter[ATTEMPTS_EXTENSION] == "4" and letter[ERROR_CODE_EXTENSION] == "500"
    assert decode_error_data(letter[ERROR_DATA_EXTENSION]) == "RuntimeError: model store unreachable"
    assert letter[TRIGGER_EXTENSION] == "infer-on-prediction-requested"


def test_an_invalid_event_is_dead_lettered_without_retries(routing, recorder) -> None:
    bad = CloudEvent(
        {"type": "io.time2bet.scrape.requested", "source": "/t", "datacontenttype": "application/json"},
        {"league": "XX"},
    )
    [result] = make_bus(routing, recorder).publish(bad)
    assert (result.outcome, result.attempts) == ("dead_lettered", 1)
    [letter] = recorder.calls["dead-letter"]
    assert letter[ERROR_CODE_EXTENSION] == "400" and "unknown league code 'XX'" in decode_error_data(
        letter[ERROR_DATA_EXTENSION]
    )


def test_an_event_with_no_subscriber_handler_is_dead_lettered(routing, recorder) -> None:
    handlers = {name: h for name, h in recorder.handlers.items() if name != "batch-score"}
    bus = InProcessBus(routing, handlers, deduper=local_deduper(), backoff_scale=BACKOFF_SCALE)
    event = make_event("io.time2bet.scoring.requested", VALID_DATA["io.time2bet.scoring.requested"], source="/t")
    [result] = bus.publish(event)
    assert (result.outcome, result.attempts) == ("dead_lettered", 1)
    assert recorder.calls["dead-letter"][0][ERROR_CODE_EXTENSION] == "404"


def test_publishing_an_unknown_type_is_refused(routing, recorder) -> None:
    with pytest.raises(InvalidEvent, match="unknown event type"):
        make_bus(routing, recorder).publish(CloudEvent({"type": "io.time2bet.nope", "source": "/t"}, {}))


def test_a_duplicate_event_id_is_delivered_once_per_subscriber(routing, recorder) -> None:
    bus = make_bus(routing, recorder)
    event = make_event("io.time2bet.matches.ingested", VALID_DATA["io.time2bet.matches.ingested"], source="/t")
    first, again = bus.publish(event), bus.publish(event)
    assert [r.outcome for r in first] == ["delivered"] and [r.outcome for r in again] == ["duplicate"]
    assert len(recorder.calls["cache-ops"]) == 1


@pytest.mark.redis
def test_redis_dedupe_is_shared_between_bus_instances(routing, recorder, redis_url, redis_prefix) -> None:
    event = make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/t")
    for _ in range(2):  # two processes' worth of buses, each with its own in-process memory
        make_bus(routing, recorder, Deduper(redis_url, redis_prefix, 60, 1000)).publish(event)
    assert len(recorder.calls["cache-ops"]) == 1


def test_dedupe_degrades_to_in_process_when_redis_is_down(routing, recorder) -> None:
    down = Deduper(f"redis://127.0.0.1:{free_port()}/0", "t2b:", 60, 1000)
    bus = make_bus(routing, recorder, down)
    event = make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/t")
    assert [r.outcome for r in bus.publish(event)] == ["delivered"]
    assert [r.outcome for r in bus.publish(event)] == ["duplicate"]
    assert len(recorder.calls["cache-ops"]) == 1


def test_dedupe_from_settings_uses_redis_url(configure, redis_url, redis_prefix) -> None:
    configure(REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix)
    first, second = Deduper.from_settings(), Deduper.from_settings()
    first.remember("k")
    assert second.seen("k") and not second.seen("other")


def test_backoff_follows_the_trigger_policy(routing) -> None:
    delivery = routing.triggers[0].delivery
    assert delivery.retry_delays() == [1.0, 2.0, 4.0]
    assert replace(delivery, backoff_policy="linear").retry_delays(0.5) == [0.25, 0.5, 0.75]
