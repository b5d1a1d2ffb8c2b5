"""The routing table, read from the Knative eventing manifests (Brokers, Triggers, PingSources).

These manifests are the one routing source: Knative applies them, the local in-process bus and the
local RabbitMQ transport load them here. The files are found next to the code
(`knative/base/eventing`, listed by its kustomization.yaml) unless EVENTS_ROUTING_DIR points at a copy
(an installed wheel does not carry the repo's knative/ folder).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from cloudevents.http import CloudEvent

import shared
from shared.clock import utcnow
from shared.config import get_settings

DEFAULT_ROUTING_DIR = Path(shared.__file__).resolve().parent.parent / "knative" / "base" / "eventing"
PING_EVENT_TYPE = "dev.knative.sources.ping"
PARALLELISM_ANNOTATION = "rabbitmq.eventing.knative.dev/parallelism"
BROKER_CLASS_ANNOTATION = "eventing.knative.dev/broker.class"
KNATIVE_SERVICE_API = "serving.knative.dev/v1"

BackoffPolicy = Literal["exponential", "linear"]


class RoutingError(ValueError):
    """The eventing manifests cannot be turned into a routing table."""


@dataclass(frozen=True)
class Delivery:
    """Knative delivery spec: `retry` retries after the first attempt, then the dead-letter service."""

    retry: int = 0
    backoff_policy: BackoffPolicy = "exponential"
    backoff_delay_seconds: float = 0.0
    dead_letter_service: str | None = None
    dead_letter_audience: str | None = None  # the OIDC audience a token for the sink must carry

    def retry_delays(self, scale: float = 1.0) -> list[float]:
        """Seconds to wait before retry 1..retry, as Knative computes them (delay*2^n or delay*n)."""
        if self.backoff_policy == "exponential":
            return [self.backoff_delay_seconds * 2**n * scale for n in range(1, self.retry + 1)]
        return [self.backoff_delay_seconds * n * scale for n in range(1, self.retry + 1)]


@dataclass(frozen=True)
class BrokerRoute:
    name: str
    queue_type: Literal["quorum", "classic"]
    delivery: Delivery


@dataclass(frozen=True)
class TriggerRoute:
    name: str
    broker: str
    filter_attributes: Mapping[str, str]
    subscriber_service: str
    delivery: Delivery
    parallelism: int
    subscriber_audience: str | None = None  # the OIDC audience a token for the subscriber must carry

    def matches(self, attributes: Mapping[str, Any]) -> bool:
        """Every filter attribute must equal the event's (RabbitMQ `x-match: all`); no filter = all."""
        return all(str(attributes.get(key)) == value for key, value in self.filter_attributes.items())


@dataclass(frozen=True)
class PingSchedule:
    name: str
    schedule: str
    timezone: str | None
    content_type: str | None
    data: Any
    extensions: Mapping[str, str]
    sink_broker: str

    def to_event(self, namespace: str) -> CloudEvent:
        """The event this PingSource emits on each tick, for a local scheduler to publish."""
        attributes = {
            "id": str(uuid.uuid4()),
            "type": PING_EVENT_TYPE,
            "source": f"/apis/v1/namespaces/{namespace}/pingsources/{self.name}",
            "time": utcnow().isoformat(),
            **self.extensions,
        }
        if self.content_type:
            attributes["datacontenttype"] = self.content_type
        return CloudEvent(attributes, self.data)


@dataclass(frozen=True)
class RoutingTable:
    brokers: Mapping[str, BrokerRoute]
    triggers: tuple[TriggerRoute, ...]
    pingsources: tuple[PingSchedule, ...] = field(default=())

    def triggers_for(self, broker: str, attributes: Mapping[str, Any]) -> list[TriggerRoute]:
        if broker not in self.brokers:
            raise RoutingError(f"unknown broker {broker!r} (known: {', '.join(sorted(self.brokers))})")
        return [trigger for trigger in self.triggers if trigger.broker == broker and trigger.matches(attributes)]

    @property
    def services(self) -> set[str]:
        """Every Knative Service the eventing layer delivers to: subscribers and dead-letter sinks."""
        dead_letter = {trigger.delivery.dead_letter_service for trigger in self.triggers}
        dead_letter |= {broker.delivery.dead_letter_service for broker in self.brokers.values()}
        return {trigger.subscriber_service for trigger in self.triggers} | (dead_letter - {None})


def load_routing(directory: Path | None = None) -> RoutingTable:
    directory = directory or get_settings().events_routing_dir or DEFAULT_ROUTING_DIR
    documents = list(_documents(directory))
    queue_types = {
        doc["metadata"]["name"]: (doc.get("spec") or {}).get("queueType", "quorum")
        for doc in documents
        if doc.get("kind") == "RabbitmqBrokerConfig"
    }
    brokers = {doc["metadata"]["name"]: _broker(doc, queue_types) for doc in documents if doc.get("kind") == "Broker"}
    triggers = tuple(_trigger(doc, brokers) for doc in documents if doc.get("kind") == "Trigger")
    pings = tuple(_pingsource(doc, brokers) for doc in documents if doc.get("kind") == "PingSource")
    names = [trigger.name for trigger in triggers]
    if len(set(names)) != len(names):
        raise RoutingError(f"duplicate Trigger names in {directory}: {sorted(names)}")
    return RoutingTable(brokers=brokers, triggers=triggers, pingsources=pings)


def _documents(directory: Path) -> Iterator[dict[str, Any]]:
    kustomization = directory / "kustomization.yaml"
    if not kustomization.is_file():
        raise RoutingError(f"no kustomization.yaml in {directory}: it lists the eventing manifests to load")
    for resource in yaml.safe_load(kustomization.read_text()).get("resources", []):
        path = directory / resource
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except (OSError, yaml.YAMLError) as error:
            raise RoutingError(f"cannot read {path}: {error}") from None
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
                raise RoutingError(f"{path}: every document needs kind and metadata.name")
            yield document


def _broker(doc: dict[str, Any], queue_types: Mapping[str, str]) -> BrokerRoute:
    name = doc["metadata"]["name"]
    broker_class = doc["metadata"].get("annotations", {}).get(BROKER_CLASS_ANNOTATION)
    if broker_class != "RabbitMQBroker":
        raise RoutingError(f"Broker {name}: {BROKER_CLASS_ANNOTATION} must be RabbitMQBroker, got {broker_class!r}")
    spec = doc.get("spec", {})
    config = (spec.get("config") or {}).get("name")
    if config not in queue_types:
        raise RoutingError(f"Broker {name}: spec.config must name a RabbitmqBrokerConfig of {sorted(queue_types)}")
    delivery = _delivery(spec.get("delivery"), f"Broker {name}")
    return BrokerRoute(name=name, queue_type=queue_types[config], delivery=delivery)


def _trigger(doc: dict[str, Any], brokers: Mapping[str, BrokerRoute]) -> TriggerRoute:
    name = doc["metadata"]["name"]
    spec = doc.get("spec", {})
    broker = spec.get("broker")
    if broker not in brokers:
        raise RoutingError(f"Trigger {name}: broker {broker!r} is not one of {sorted(brokers)}")
    if spec.get("filters"):
        raise RoutingError(f"Trigger {name}: spec.filters is not supported by RabbitMQBroker; use filter.attributes")
    attributes = (spec.get("filter") or {}).get("attributes") or {}
    delivery = spec.get("delivery")
    return TriggerRoute(
        name=name,
        broker=broker,
        filter_attributes={str(key): str(value) for key, value in attributes.items()},
        subscriber_service=_service_name(spec.get("subscriber"), f"Trigger {name} subscriber"),
        # Knative falls back to the broker's delivery when a Trigger has none.
        delivery=_delivery(delivery, f"Trigger {name}") if delivery else brokers[broker].delivery,
        parallelism=_parallelism(doc, name),
        subscriber_audience=(spec.get("subscriber") or {}).get("audience"),
    )


def _pingsource(doc: dict[str, Any], brokers: Mapping[str, BrokerRoute]) -> PingSchedule:
    name = doc["metadata"]["name"]
    spec = doc.get("spec", {})
    sink = (spec.get("sink") or {}).get("ref") or {}
    if sink.get("kind") != "Broker" or sink.get("name") not in brokers:
        raise RoutingError(f"PingSource {name}: sink must reference one of the Brokers {sorted(brokers)}")
    content_type = spec.get("contentType")
    data = spec.get("data")
    if data is not None and content_type == "application/json":
        try:
            data = json.loads(data)
        except json.JSONDecodeError as error:
            raise RoutingError(f"PingSource {name}: data is not JSON: {error}") from None
    return PingSchedule(
        name=name,
        schedule=spec.get("schedule", ""),
        timezone=spec.get("timezone"),
        content_type=content_type,
        data=data,
        extensions=dict((spec.get("ceOverrides") or {}).get("extensions") or {}),
        sink_broker=sink["name"],
    )


def _service_name(destination: Mapping[str, Any] | None, where: str) -> str:
    ref = (destination or {}).get("ref") or {}
    if ref.get("apiVersion") != KNATIVE_SERVICE_API or ref.get("kind") != "Service" or not ref.get("name"):
        raise RoutingError(f"{where}: must be a ref to a Knative Service ({KNATIVE_SERVICE_API}), got {destination!r}")
    return ref["name"]


def _delivery(spec: Mapping[str, Any] | None, where: str) -> Delivery:
    if not spec:
        return Delivery()
    policy = spec.get("backoffPolicy", "exponential")
    if policy not in ("exponential", "linear"):
        raise RoutingError(f"{where}: backoffPolicy must be exponential or linear, got {policy!r}")
    sink = spec.get("deadLetterSink")
    return Delivery(
        retry=int(spec.get("retry", 0)),
        backoff_policy=policy,
        backoff_delay_seconds=parse_duration(spec["backoffDelay"], where) if "backoffDelay" in spec else 0.0,
        dead_letter_service=_service_name(sink, f"{where} deadLetterSink") if sink else None,
        dead_letter_audience=(sink or {}).get("audience"),
    )


_ISO_DURATION = re.compile(r"^PT(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?$")


def parse_duration(text: str, where: str = "duration") -> float:
    """Seconds in an ISO 8601 time duration as Knative writes backoffDelay (PT0.5S, PT1M30S)."""
    match = _ISO_DURATION.match(text)
    if not match or text == "PT":
        raise RoutingError(f"{where}: {text!r} is not an ISO 8601 duration like PT0.5S")
    return sum(float(match[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1)))


def _parallelism(doc: dict[str, Any], name: str) -> int:
    raw = doc["metadata"].get("annotations", {}).get(PARALLELISM_ANNOTATION, "1")
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise RoutingError(f"Trigger {name}: {PARALLELISM_ANNOTATION} must be an integer 1..1000, got {raw!r}")
    return value
