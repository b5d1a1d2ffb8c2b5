"""Every manifest under knative/ against its upstream CRD schema (strict), plus the rules no schema holds."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from shared.events.contract import EVENT_TYPES, INTENDED_TYPE_EXTENSION
from shared.events.routing import PARALLELISM_ANNOTATION, PING_EVENT_TYPE, load_routing
from shared.runtime.functions import discover_functions
from tests.platform.crd_validation import CRD_FILES, SCHEMAS, documents, errors, is_core_kind
from tests.services import REPO

KNATIVE = REPO / "knative"


# Core kinds and the ModelBinding CRD, validated by tests/operator/test_manifests.py.
OPERATOR_MANIFESTS = KNATIVE / "base" / "operator"


def manifest_files() -> list[Path]:
    return sorted(
        path
        for path in KNATIVE.rglob("*.yaml")
        if path.name != "kustomization.yaml"
        and OPERATOR_MANIFESTS not in path.parents
        # overlays' patches/ hold partial objects and JSON patches, not whole manifests
        and "patches" not in path.relative_to(KNATIVE).parts
    )


def manifests() -> list[tuple[str, dict]]:
    return [
        (f"{path.relative_to(REPO)}#{index}", document)
        for path in manifest_files()
        for index, document in enumerate(documents(path))
    ]


@pytest.mark.parametrize(("where", "document"), manifests(), ids=[where for where, _ in manifests()])
def test_manifest_matches_its_crd_strictly(where: str, document: dict) -> None:
    known = (document.get("apiVersion"), document.get("kind")) in CRD_FILES or is_core_kind(document)
    assert known, f"{where}: no schema for this kind"
    assert errors(document) == [], where


def test_every_manifest_is_listed_by_a_kustomization() -> None:
    listed: set[Path] = set()
    for kustomization in KNATIVE.rglob("kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text()).get("resources", []):
            target = kustomization.parent / resource
            assert target.exists(), f"{kustomization.relative_to(REPO)} lists missing {resource}"
            listed |= set(target.rglob("*.yaml")) if target.is_dir() else {target}
    assert set(manifest_files()) <= listed


# --- the validator itself ---------------------------------------------------------------------------


def upstream_examples() -> list[tuple[str, dict]]:
    return [
        (f"{path.relative_to(SCHEMAS)}#{index}", document)
        for path in sorted(SCHEMAS.glob("**/examples/*.yaml"))
        for index, document in enumerate(documents(path))
    ]


@pytest.mark.parametrize(("where", "document"), upstream_examples(), ids=[w for w, _ in upstream_examples()])
def test_upstream_examples_pass_strict_validation(where: str, document: dict) -> None:
    assert errors(document) == [], where


def _first(kind: str) -> dict:
    return copy.deepcopy(next(document for _, document in manifests() if document["kind"] == kind))


@pytest.mark.parametrize(
    ("kind", "path", "typo"),
    [
        ("Broker", ("spec",), "delivry"),
        ("Broker", ("spec", "delivery", "deadLetterSink", "ref"), "nmae"),
        ("Trigger", ("spec", "subscriber", "ref"), "nmae"),
        ("Trigger", ("spec", "delivery", "deadLetterSink"), "reff"),
        ("PingSource", ("spec",), "schedul"),
        ("RabbitmqBrokerConfig", ("spec",), "queueTyp"),
        ("RabbitmqBrokerConfig", (), "sepc"),
    ],
)
def test_strict_mode_rejects_a_misspelt_field(kind: str, path: tuple[str, ...], typo: str) -> None:
    document = _first(kind)
    node = document
    for key in path:
        node = node[key]
    node[typo] = "x"
    assert any("Additional properties are not allowed" in line and typo in line for line in errors(document))


def test_strict_mode_rejects_a_bad_enum_and_missing_metadata() -> None:
    config = _first("RabbitmqBrokerConfig")
    config["spec"]["queueType"] = "fast"
    assert any("queueType" in line for line in errors(config))
    trigger = _first("Trigger")
    del trigger["metadata"]
    assert any("'metadata' is a required property" in line for line in errors(trigger))


# --- rules the schemas cannot express ----------------------------------------------------------------


def test_brokers_are_rabbitmq_brokers_with_a_quorum_config() -> None:
    docs = [document for _, document in manifests()]
    configs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "RabbitmqBrokerConfig"}
    brokers = [d for d in docs if d["kind"] == "Broker"]
    assert {b["metadata"]["name"] for b in brokers} == {"api", "ml"}
    for broker in brokers:
        assert broker["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "RabbitMQBroker"
        config = configs[broker["spec"]["config"]["name"]]
        assert config["spec"]["queueType"] == "quorum"
        assert config["spec"]["rabbitmqClusterReference"]["name"]
        assert broker["spec"]["delivery"]["deadLetterSink"]["ref"]["name"] == "dead-letter"


def test_trigger_parallelism_is_an_integer_from_1_to_1000() -> None:
    for where, document in manifests():
        if document["kind"] == "Trigger":
            raw = document["metadata"]["annotations"][PARALLELISM_ANNOTATION]
            assert raw.isdigit() and 1 <= int(raw) <= 1000, f"{where}: parallelism {raw!r}"


def test_subscribers_and_dead_letter_sinks_are_known_functions() -> None:
    routing = load_routing(KNATIVE / "base" / "eventing")
    event_functions = {f.spec.name for f in discover_functions() if f.spec.kind == "event"}
    assert routing.services <= event_functions, f"unknown services: {routing.services - event_functions}"
    assert {t.delivery.dead_letter_service for t in routing.triggers} == {"dead-letter"}


def test_every_contract_type_is_routed_on_its_broker_and_every_filter_is_a_contract_type() -> None:
    routing = load_routing(KNATIVE / "base" / "eventing")
    routed = {(t.filter_attributes["type"], t.broker) for t in routing.triggers}
    for spec in EVENT_TYPES.values():
        assert (spec.type, spec.broker) in routed, f"{spec.type} has no Trigger on broker {spec.broker}"
    for trigger in routing.triggers:
        event_type = trigger.filter_attributes["type"]
        if event_type == PING_EVENT_TYPE:
            assert trigger.filter_attributes[INTENDED_TYPE_EXTENSION] in EVENT_TYPES
        else:
            assert event_type in EVENT_TYPES, f"Trigger {trigger.name} filters on unknown type {event_type}"
        assert trigger.delivery.retry == 3 and trigger.delivery.backoff_policy == "exponential"
        assert trigger.delivery.backoff_delay_seconds == 0.5


# Each PingSource and the one function its pings reach.
PINGED_SERVICE = {"scrape-schedule": "scrape", "matchday-tick": "matchday"}


def test_every_pingsource_is_routed_to_a_trigger() -> None:
    routing = load_routing(KNATIVE / "base" / "eventing")
    assert {ping.name for ping in routing.pingsources} == set(PINGED_SERVICE)
    for ping in routing.pingsources:
        event = ping.to_event("time2bet")
        matched = routing.triggers_for(ping.sink_broker, event.get_attributes())
        assert [t.subscriber_service for t in matched] == [PINGED_SERVICE[ping.name]], ping.name
