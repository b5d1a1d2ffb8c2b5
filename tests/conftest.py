"""Fixtures for the real services: PostgreSQL, Redis, RabbitMQ and an S3 server (moto).

Each test gets its own PostgreSQL database, Redis key prefix, RabbitMQ vhost and S3 bucket, and
they are removed afterwards. Settings are process-wide caches, so `configure` resets them.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from shared.config import get_settings
from shared.db import migrate
from shared.db.session import engine_for
from shared.storage import get_store
from tests.mlflow_fixtures import mlflow_server  # noqa: F401 (shared with every test package)
from tests.services import SHARED_KIT, free_port, listening, python_bin, require, start_process, stop_process

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FOOTBALL_DATA = SHARED_KIT / "data" / "football-data"


def reset_caches() -> None:
    from shared.cache import get_cache
    from shared.events.publisher import get_publisher
    from shared.jobs import job_store
    from shared.serving import runtime

    if get_publisher.cache_info().currsize:
        get_publisher().close()
    for factory in (get_settings, get_store, get_cache, get_publisher, job_store):
        factory.cache_clear()
    runtime.reset()


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., None]:
    """Set environment variables for the settings object and drop every cached client."""
    monkeypatch.setenv("T2B_DATA_DIR", str(tmp_path / "var"))
    for name in ("DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL", "SELENOID_URL"):
        monkeypatch.delenv(name, raising=False)

    def apply(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_caches()

    reset_caches()
    yield apply
    reset_caches()


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
    engine_for.cache_clear()
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
def redis_url() -> Iterator[str]:
    """Redis on loopback; the test's keys live under its own prefix (REDIS_KEY_PREFIX) and are removed."""
    require(listening("127.0.0.1", 6379), "Redis is not listening on 127.0.0.1:6379")
    import redis

    yield "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    for key in client.scan_iter(match="t2b-test-*"):
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
    process = start_process([python_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)], port, log)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)


@pytest.fixture
def s3_settings(s3_endpoint: str) -> dict[str, str]:
    """Environment for the settings object pointing at a fresh bucket on the test S3 server."""
    return {
        "S3_ENDPOINT": s3_endpoint,
        "S3_ACCESS_KEY": "testing",
        "S3_SECRET_KEY": "testing",
        "S3_BUCKET": f"t2b-test-{uuid.uuid4().hex[:8]}",
        "S3_REGION": "us-east-1",
    }
