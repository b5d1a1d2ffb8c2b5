"""Fixtures for the real services: PostgreSQL, Redis, RabbitMQ and an S3 server (moto).

Each test gets its own PostgreSQL database, Redis key prefix, RabbitMQ vhost and S3 bucket, and
they are removed afterwards. `configure` sets the environment; a test's functions work on `Services`
built from it (`make_services`, `client_for`), one set per test, closed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.db import migrate
from shared.db.session import engine_for
from shared.services import Services
from shared.web.deps import get_services
from tests.mlflow_fixtures import mlflow_server  # noqa: F401 (shared with every test package)
from tests.prepared import PreparedData
from tests.services import (
    REPO,
    SHARED_KIT,
    free_port,
    listening,
    python_bin,
    require,
    s3_environment,
    start_moto,
    stop_process,
)

# MLflow's telemetry thread sets and unsets an environment variable while urllib (the MLflow REST client's
# proxy lookup) iterates os.environ: a KeyError fails a request now and then. There is no network here
# for it anyway; child processes inherit the setting.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FOOTBALL_DATA = SHARED_KIT / "data" / "football-data"


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Set environment variables for the settings object (embedded defaults under tmp_path otherwise)."""
    monkeypatch.setenv("T2B_DATA_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL", "SELENOID_URL"):
        monkeypatch.delenv(name, raising=False)

    def apply(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return apply


@pytest.fixture
def make_services(configure: Callable[..., None]) -> Iterator[Callable[[], Services]]:
    """`make_services()`: Services from the environment as configured at the call, closed after the test.
    A test process hosts many functions, so none tunes the interpreter (predict's collector settings)."""
    built: list[Services] = []

    def make() -> Services:
        built.append(Services.from_environment(shares_interpreter=True))
        return built[-1]

    yield make
    for services in reversed(built):
        services.close()


@pytest.fixture
def client_for(make_services: Callable[[], Services]) -> Iterator[Callable[..., TestClient]]:
    """`client_for(app)`: a TestClient of a function app whose `get_services` dependency is overridden
    with the test's Services (built at the first call; pass `services=` to choose); overrides are
    removed after the test."""
    shared: list[Services] = []
    apps: list[FastAPI] = []

    def client(app: FastAPI, services: Services | None = None, **options: Any) -> TestClient:
        if services is None:
            if not shared:
                shared.append(make_services())
            services = shared[0]
        app.dependency_overrides[get_services] = lambda: services
        apps.append(app)
        return TestClient(app, **options)

    yield client
    for app in apps:
        app.dependency_overrides.pop(get_services, None)


@pytest.fixture
def football_data() -> Path:
    """The full 30,941-match reference set: only the kit beside the repo has it, so its tests skip
    without it, in CI too (a bare clone is a supported way to run the suite)."""
    if not FOOTBALL_DATA.is_dir():
        pytest.skip(f"the full football-data reference set is not beside the repo ({FOOTBALL_DATA})")
    return FOOTBALL_DATA


# --- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    require(listening("127.0.0.1", 5432), "PostgreSQL is not listening on 127.0.0.1:5432")
    name = f"t2b_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    yield url
    engine_for(url).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    migrate.upgrade(url)
    yield url
    engine_for(url).dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The store tests run on both backends."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


# --- Redis --------------------------------------------------------------------------------------


@pytest.fixture
def redis_url(redis_prefix: str) -> Iterator[str]:
    """Redis on loopback; the test's keys live under its own prefix (REDIS_KEY_PREFIX) and only those are
    removed: another run on the same server (a second checkout, a benchmark) keeps its keys."""
    require(listening("127.0.0.1", 6379), "Redis is not listening on 127.0.0.1:6379")
    import redis

    yield "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in client.scan_iter(match=f"{redis_prefix}*"):
        client.delete(key)


@pytest.fixture
def redis_prefix() -> str:
    return f"t2b-test-{uuid.uuid4().hex[:8]}:"


# --- RabbitMQ -----------------------------------------------------------------------------------


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A vhost of the test's own on the local RabbitMQ, deleted afterwards."""
    require(listening("127.0.0.1", 5672), "RabbitMQ is not listening on 127.0.0.1:5672")
    vhost = f"t2b-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


# --- S3 (moto's standalone server; MinIO's server cannot be installed here) ---------------------


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    process = start_moto(port, log)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)


@pytest.fixture
def s3_settings(s3_endpoint: str) -> dict[str, str]:
    """Environment for the settings object pointing at a fresh bucket on the test S3 server."""
    return s3_environment(s3_endpoint)


# --- the main job, once per session -------------------------------------------------------------


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """`t2b demo --no-serve` once for the whole suite (the main job test, the runtime, the UI and the
    real-Prometheus tests read it): migrate, import, export, train, promote a champion, batch-score."""
    data_dir = tmp_path_factory.mktemp("main-job") / "var"
    prepared = PreparedData(data_dir, f"outcome-{uuid.uuid4().hex[:8]}", demo_output="")
    result = subprocess.run(
        [python_bin("t2b"), "demo", "--no-serve"],
        cwd=REPO,
        env=prepared.env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return PreparedData(data_dir, prepared.model_name, demo_output=result.stdout)


@pytest.fixture
def writable_data(prepared_data: PreparedData, tmp_path: Path) -> PreparedData:
    """The main job's data directory, copied for a test that writes to it (imports, scrapes, batch scores)."""
    return prepared_data.writable_copy(tmp_path)
