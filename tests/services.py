"""Helpers the test fixtures use to find, or start, the real services the suite talks to."""

from __future__ import annotations

import importlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

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

SHARED_KIT = REPO.parent / "shared"  # the team's reference kit: only the full-data tests read it, and skip without it


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """In CI a missing service fails the run; on a developer machine the test is skipped."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def function_command(package: str, port: int) -> list[str]:
    """functions/<package>/main.py's own launch command (its SPEC's) on loopback, run by this interpreter's venv."""
    program, *args = importlib.import_module(f"functions.{package}.main").SPEC.launch_command("127.0.0.1", port)
    return [python_bin(program), *args]


def start_moto(port: int, log: Path) -> subprocess.Popen:
    """moto's standalone S3 server on 127.0.0.1:`port` (it keeps its buckets in memory: a restart is empty)."""
    return start_process([python_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], port, log)


def s3_environment(endpoint: str, secret_key: str = "testing") -> dict[str, str]:
    """Environment for the settings object pointing at a fresh bucket on the S3 server at `endpoint`."""
    return {
        "S3_ENDPOINT": endpoint,
        "S3_ACCESS_KEY": "testing",
        "S3_SECRET_KEY": secret_key,
        "S3_BUCKET": f"t2b-test-{uuid.uuid4().hex[:8]}",
        "S3_REGION": "us-east-1",
    }


def eventually(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail saying `what` was expected once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.1)
