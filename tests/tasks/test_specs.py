"""The Trigger manifests are rendered from the event functions' SPECs and agree with them."""

from __future__ import annotations

import importlib

import yaml

from shared.events.contract import EVENT_TYPES
from shared.events.routing import load_routing
from shared.events.triggers import render_triggers
from shared.runtime.functions import discover_functions
from tests.services import REPO

TRIGGERS = REPO / "knative" / "base" / "eventing" / "triggers.yaml"


def test_committed_triggers_are_the_rendered_ones() -> None:
    rendered = list(yaml.safe_load_all(render_triggers([f.spec for f in discover_functions()])))
    assert list(yaml.safe_load_all(TRIGGERS.read_text())) == rendered, "triggers.yaml is stale: run `t2b manifests`"


def test_each_trigger_carries_its_specs_delivery_on_the_contract_broker() -> None:
    specs = {f.spec.name: f.spec for f in discover_functions()}
    for trigger in load_routing().triggers:
        spec = specs[trigger.subscriber_service]
        assert spec.triggers is not None and trigger.parallelism == spec.triggers.parallelism
        assert trigger.delivery.retry == spec.triggers.retry
        assert trigger.delivery.dead_letter_service == spec.triggers.dead_letter_sink
        event_type = trigger.filter_attributes.get("t2beventtype", trigger.filter_attributes["type"])
        assert event_type in spec.event_types and EVENT_TYPES[event_type].broker == trigger.broker


def test_dead_letter_is_every_triggers_sink_and_takes_every_type() -> None:
    spec = importlib.import_module("functions.dead_letter.main").SPEC
    routing = load_routing()
    assert spec.triggers is None  # nothing subscribes it: it is the sink
    assert {t.delivery.dead_letter_service for t in routing.triggers} == {spec.name}
    assert {t.filter_attributes["type"] for t in routing.triggers} <= set(spec.event_types)
