"""Helpers the test fixtures use to find, or start, the real services the suite talks to."""

from __future__ import annotations

import os

import pytest

from shared.processes import (  # noqa: F401  (the fixtures' helpers, re-exported)
    REPO,
    free_port,
    listening,
    python_bin,
    start_process,
    stop_process,
    wait_for_port,
)

SHARED_KIT = REPO.parent / "shared"  # the team's reference kit: real data and upstream schemas


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """In CI a missing service fails the run; on a developer machine the test is skipped."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)
