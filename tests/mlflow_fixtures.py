"""A real MLflow tracking server (database backend, served artifacts) for the tests that need one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import free_port, python_bin, start_process, stop_process


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` on loopback with a SQLite backend store; yields its tracking URI."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
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
    process = start_process(args, port, root / "mlflow.log", timeout=90.0)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)
