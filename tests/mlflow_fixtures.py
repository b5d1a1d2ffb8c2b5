"""A real MLflow tracking server (database backend, served artifacts) for the tests that need one."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import free_port, python_bin, start_process, stop_process


def start_mlflow(root: Path, port: int) -> subprocess.Popen:
    """`mlflow server` on 127.0.0.1:`port` with its SQLite backend store and artifacts under `root`: started
    again on the same root and port, it serves the same registry."""
    args = [
        python_bin("mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # No job runner (the platform runs no MLflow jobs): its huey consumer outlives a SIGTERM to the server
    # as an orphan, whereas without it terminating the server's PID stops the server and its uvicorn child.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return start_process(args, port, root / "mlflow.log", env=env, timeout=90.0)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's MLflow server on loopback; yields its tracking URI."""
    port = free_port()
    process = start_mlflow(tmp_path_factory.mktemp("mlflow-server"), port)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)
