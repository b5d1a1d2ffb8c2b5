"""params.yaml's sections as frozen dataclasses: the one check that a section names only known fields."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

SectionT = TypeVar("SectionT")


def from_section(cls: type[SectionT], values: dict[str, Any] | None, what: str) -> SectionT:
    """`cls` (a dataclass) from a section's mapping; an unknown key is a ValueError naming `what` parameter it is."""
    unknown = set(values or {}) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} parameter(s): {', '.join(sorted(unknown))}")
    return cls(**(values or {}))
