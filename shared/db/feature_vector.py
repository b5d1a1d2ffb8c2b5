"""The prediction log's feature vectors, stored positionally instead of as a JSON object per row.

A logged row used to carry ~1.4 KB of JSON, most of it the 34 feature names repeated on every
row. A row now stores one version byte naming a feature schema (an ordered tuple of names,
registered below) followed by the values as little-endian float64 — 273 bytes for 34 features.
float64, not float32: readers (the drift report, live quality) must see exactly the values that
were served. A missing value (None, or NaN which the JSON log could not hold) is stored as NaN
and read back as None, as the JSON log did. A dict whose names match no registered schema is
stored as version 0, JSON, so nothing is ever refused or lost.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from typing import Any

from sqlalchemy import LargeBinary, TypeDecorator

from shared.features.compute import FEATURE_NAMES

# Version 1 is today's FEATURE_NAMES. Rows already stored are decoded by their version's names, so a
# registered tuple must never change: SCHEMA_DIGESTS pins each one (tests check it). When
# FEATURE_NAMES changes, write version 1's names out here literally and register the new tuple as 2.
FEATURE_SCHEMAS: dict[int, tuple[str, ...]] = {1: FEATURE_NAMES}
SCHEMA_DIGESTS = {1: "623ca00b9c859369"}
JSON_VERSION = 0
_VERSION_OF = {frozenset(names): version for version, names in FEATURE_SCHEMAS.items()}
_PACKERS = {version: struct.Struct(f"<{len(names)}d") for version, names in FEATURE_SCHEMAS.items()}


def encode(features: dict[str, Any]) -> bytes:
    version = _VERSION_OF.get(frozenset(features))
    if version is None:
        return bytes([JSON_VERSION]) + json.dumps(features, separators=(",", ":")).encode()
    values = (math.nan if features[name] is None else float(features[name]) for name in FEATURE_SCHEMAS[version])
    return bytes([version]) + _PACKERS[version].pack(*values)


def decode(data: bytes) -> dict[str, float | None]:
    version, body = data[0], memoryview(data)[1:]
    if version == JSON_VERSION:
        return json.loads(bytes(body))
    try:
        names, packer = FEATURE_SCHEMAS[version], _PACKERS[version]
    except KeyError:
        raise ValueError(f"prediction log features of unknown schema version {version}") from None
    return {name: None if math.isnan(value) else value for name, value in zip(names, packer.unpack(body), strict=True)}


class CompactFeatures(TypeDecorator[dict]):
    """A features dict in, the same dict out; a versioned positional vector in the store."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect) -> bytes | None:
        return None if value is None else encode(value)

    def process_result_value(self, value: bytes | None, dialect) -> dict[str, float | None] | None:
        return None if value is None else decode(bytes(value))


def schema_digest(names: tuple[str, ...]) -> str:
    return hashlib.sha256(",".join(names).encode()).hexdigest()[:16]
