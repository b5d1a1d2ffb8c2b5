"""CloudEvents over HTTP in both content modes: binary (attributes in ce-* headers) and structured."""

from __future__ import annotations

from collections.abc import Mapping

from cloudevents.conversion import to_binary as _to_binary
from cloudevents.conversion import to_structured as _to_structured
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent
from cloudevents.http import from_http as _from_http

from shared.events.contract import InvalidEvent


def to_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    headers, body = _to_binary(event)
    return dict(headers), body or b""


def to_structured(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    headers, body = _to_structured(event)
    return dict(headers), body


def from_http(headers: Mapping[str, str], body: bytes | str | None) -> CloudEvent:
    """Read a CloudEvent in binary or structured mode; anything else is an InvalidEvent, not a traceback."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        return _from_http(lowered, body)
    except GenericException as error:
        raise InvalidEvent(f"not a CloudEvent: {error}") from None
