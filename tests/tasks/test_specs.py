"""The task functions' SPECs agree with the Trigger manifests that route events to them."""

from __future__ import annotations

import importlib

import pytest

from shared.events.routing import load_routing


@pytest.mark.parametrize("package", ["cache_ops", "scrape"])
def test_event_types_are_the_ones_the_triggers_send(package: str) -> None:
    spec = importlib.import_module(f"functions.{package}.main").SPEC
    routing = load_routing()
    routed = {t.filter_attributes["type"] for t in routing.triggers if t.subscriber_service == spec.name}
    assert spec.kind == "event" and routed and routed == set(spec.event_types)


def test_dead_letter_is_every_triggers_sink_and_takes_every_type() -> None:
    spec = importlib.import_module("functions.dead_letter.main").SPEC
    routing = load_routing()
    assert {t.delivery.dead_letter_service for t in routing.triggers} == {spec.name}
    assert {t.filter_attributes["type"] for t in routing.triggers} <= set(spec.event_types)
