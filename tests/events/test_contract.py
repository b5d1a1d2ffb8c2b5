"""The event contract: good, bad and unknown events, binary and structured HTTP round trips."""

from __future__ import annotations

import json

import pytest
from cloudevents.http import CloudEvent

from shared.events.contract import (
    EVENT_TYPES,
    InvalidEvent,
    PredictionCompleted,
    ScrapeRequested,
    make_event,
    parse_event,
)
from shared.events.http import from_http, to_binary, to_structured
from tests.events.events import SOURCE, VALID_DATA, one_of_each


def test_every_type_has_valid_sample_data() -> None:
    assert set(VALID_DATA) == set(EVENT_TYPES)


@pytest.mark.parametrize("event", one_of_each(), ids=lambda event: event["type"])
@pytest.mark.parametrize("mode", [to_binary, to_structured], ids=["binary", "structured"])
def test_round_trip_over_http_keeps_id_type_and_data(event: CloudEvent, mode) -> None:
    headers, body = mode(event)
    received = parse_event(from_http(headers, body))
    assert (received.id, received.type, received.source) == (event["id"], event["type"], SOURCE)
    assert received.data.model_dump(mode="json") == event.get_data()
    assert isinstance(received.data, EVENT_TYPES[event["type"]].data_model)


def test_binary_mode_puts_attributes_in_ce_headers() -> None:
    headers, body = to_binary(make_event("io.time2bet.scrape.requested", ScrapeRequested(league="E0"), source="/t"))
    assert headers["ce-type"] == "io.time2bet.scrape.requested"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"league": "E0", "season": None, "source": "whoscored"}


def test_make_event_gives_each_event_a_fresh_uuid() -> None:
    first, second = (make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/t") for _ in range(2))
    assert first["id"] != second["id"] and len(first["id"]) == 36


def test_unknown_type_is_rejected_with_the_known_types() -> None:
    with pytest.raises(InvalidEvent, match=r"unknown event type 'io.time2bet.nope'.*io.time2bet.scrape.requested"):
        parse_event(CloudEvent({"type": "io.time2bet.nope", "source": "/t"}, {}))
    with pytest.raises(InvalidEvent, match="unknown event type"):
        make_event("io.time2bet.nope", {}, source="/t")


@pytest.mark.parametrize(
    ("event_type", "data", "reason"),
    [
        ("io.time2bet.scrape.requested", {"league": "XX"}, r"league: Value error, unknown league code 'XX'"),
        ("io.time2bet.scrape.requested", {"league": "E0", "season": "2019-2021"}, r"season: .*2019-2020"),
        ("io.time2bet.scrape.requested", {"league": "E0", "leage": "E0"}, r"leage: Extra inputs are not permitted"),
        (
            "io.time2bet.prediction.completed",
            {"job_id": "j", "model_version": "1", "home_win": 0.5, "draw": 0.5, "away_win": 0.5},
            r"must be 1, got 1.500000",
        ),
        ("io.time2bet.features.requested", {"leagues": [], "seasons": ["2020-2021"]}, r"leagues: List should have"),
        ("io.time2bet.model.promoted", [1, 2], r"data must be a JSON object, got list"),
    ],
)
def test_bad_data_is_rejected_with_a_clear_reason(event_type: str, data, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_event(CloudEvent({"type": event_type, "source": "/t", "datacontenttype": "application/json"}, data))
    with pytest.raises(InvalidEvent, match=reason):
        make_event(event_type, data, source="/t")


def test_non_json_data_and_non_cloudevent_requests_are_invalid_not_tracebacks() -> None:
    with pytest.raises(InvalidEvent, match="datacontenttype must be JSON"):
        parse_event(
            CloudEvent(
                {"type": "io.time2bet.cache.invalidate", "source": "/t", "datacontenttype": "text/plain"}, "hello"
            )
        )
    with pytest.raises(InvalidEvent, match="not a CloudEvent"):
        from_http({"content-type": "application/json"}, b'{"league": "E0"}')
    with pytest.raises(InvalidEvent, match="not a CloudEvent"):
        from_http({"content-type": "application/cloudevents+json"}, b"{not json")


def test_a_ping_stands_for_the_type_its_extension_names() -> None:
    ping = CloudEvent(
        {
            "type": "dev.knative.sources.ping",
            "source": "/apis/v1/namespaces/x/pingsources/s",
            "t2beventtype": "io.time2bet.scrape.requested",
            "datacontenttype": "application/json",
        },
        {"league": "E0"},
    )
    envelope = parse_event(ping)
    assert envelope.type == "io.time2bet.scrape.requested" and envelope.broker == "api"
    assert envelope.data == ScrapeRequested(league="E0")
    with pytest.raises(InvalidEvent, match="needs the t2beventtype extension"):
        parse_event(CloudEvent({"type": "dev.knative.sources.ping", "source": "/p"}, {"league": "E0"}))


def test_envelope_is_typed() -> None:
    event = make_event(
        "io.time2bet.prediction.completed",
        VALID_DATA["io.time2bet.prediction.completed"],
        source="/t",
        subject="match/1",
        extensions={"traceparent": "00-abc-def-01"},
    )
    envelope = parse_event(event)
    assert isinstance(envelope.data, PredictionCompleted) and envelope.data.home_win == 0.5
    assert envelope.subject == "match/1" and envelope.extensions == {"traceparent": "00-abc-def-01"}
    assert envelope.broker == "ml"
