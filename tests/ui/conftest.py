"""One real local runtime (`t2b up` on loopback, on a data directory the main job prepared) per test session.

The web app is a client of the HTTP functions, so its tests run it against the real thing: the
store, the batch parquet, the MLflow registry and the async-prediction path of `t2b up`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prepared import BACKEND_VARIABLES, PreparedData
from tests.services import REPO, free_port, python_bin, wait_for_port

ARTIFACTS = REPO / "var" / "test-artifacts" / "ui"  # screenshots kept after the run (var/ is git-ignored)


@pytest.fixture(scope="session")
def api_url(prepared_data: PreparedData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("up") / "up.log").open("wb")
    process = subprocess.Popen(
        [python_bin("t2b"), "up", "--port", str(port)],
        cwd=REPO,
        env=_embedded_defaults(prepared_data),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, timeout=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _embedded_defaults(prepared: PreparedData) -> dict[str, str]:
    """The data directory's environment with the backend variables unset: an empty REDIS_URL is not
    read as "no Redis" by every setting (predict then fails on the URL's scheme)."""
    env = prepared.env()
    return {name: value for name, value in env.items() if not (name in BACKEND_VARIABLES and value == "")}


@pytest.fixture
def closed_url() -> str:
    """An address where nothing listens: the API is down."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
