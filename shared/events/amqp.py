"""CloudEvents AMQP protocol binding, binary content mode, mapped onto AMQP 0-9-1 (RabbitMQ).

Attributes travel as message headers named `cloudEvents_<attribute>` (the binding allows the
`cloudEvents_` or `cloudEvents:` prefix; `_` is the one that is also a valid JMS/STOMP property name),
`datacontenttype` travels as the AMQP content-type property, the data is the body. The same header
keys are the headers exchange binding arguments, so Trigger filters match on them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cloudevents.http import CloudEvent

from shared.events.contract import InvalidEvent

HEADER_PREFIXES = ("cloudEvents_", "cloudEvents:")
PUBLISH_PREFIX = HEADER_PREFIXES[0]
HTTP_PREFIX = "ce-"


def header_key(attribute: str) -> str:
    return PUBLISH_PREFIX + attribute


def to_amqp(event: CloudEvent) -> tuple[dict[str, str], str | None, bytes]:
    """(headers, content type, body) of the event in binary mode.

    Written straight from the attributes, as the SDK's binary HTTP marshaller would (data JSON-encoded
    unless bytes): that marshaller costs more per event than the publish itself.
    """
    headers: dict[str, str] = {}
    content_type = None
    for key, value in event.get_attributes().items():
        if key == "datacontenttype":
            content_type = value
        elif value is not None:
            headers[header_key(key)] = value
    data = event.get_data()
    if data is None:
        return headers, content_type, b""
    return headers, content_type, data if isinstance(data, bytes) else json.dumps(data).encode()


def attributes_from_amqp(headers: Mapping[str, Any] | None) -> dict[str, str]:
    attributes = {}
    for key, value in (headers or {}).items():
        for prefix in HEADER_PREFIXES:
            if key.startswith(prefix):
                attributes[key[len(prefix) :]] = value.decode() if isinstance(value, bytes) else str(value)
    for required in ("id", "source", "type", "specversion"):
        if required not in attributes:
            raise InvalidEvent(f"AMQP message is not a binary-mode CloudEvent: no {header_key(required)} header")
    return attributes


def http_headers_from_amqp(headers: Mapping[str, Any] | None, content_type: str | None) -> dict[str, str]:
    """Binary-mode HTTP headers for forwarding an AMQP CloudEvent without decoding its data."""
    http_headers = {HTTP_PREFIX + key: value for key, value in attributes_from_amqp(headers).items()}
    if content_type:
        http_headers["content-type"] = content_type
    return http_headers
