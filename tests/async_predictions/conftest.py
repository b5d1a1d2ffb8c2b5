"""A champion model on real backends, the apps under test, and polling a task until it ends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from shared.db import migrate
from shared.db.session import get_engine
from shared.ingest.football_data import discover, import_file
from shared.ml.pipeline import run_ml_demo
from shared.runtime.functions import discover_functions, event_handlers
from shared.services import Services
from shared.storage import get_store
from tests.services import REPO
from tests.tasks.conftest import start_function  # noqa: F401 (infer runs as its own process)

BODY = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}
JOB_TTL = "300"  # jobs a failed test leaves behind expire on their own
Configure = Callable[..., None]


@pytest.fixture
def hosting(make_services: Callable[[], Services]) -> Callable[[], Services]:
    """`hosting()`: the test process's services from the environment as configured now, with the event
    functions (infer among them) behind the in-process bus, as `t2b up` hosts them."""

    def host() -> Services:
        services = make_services()
        services.host_event_functions(event_handlers(discover_functions(), services))
        return services

    return host


def train_champion() -> None:
    """The demo data imported and the demo model registered as champion (as tests/serving does)."""
    engine = get_engine()
    for path in discover([REPO / "data" / "demo" / "football-data"]):
        assert import_file(engine, path).ok
    run_ml_demo(engine, get_store())


@pytest.fixture
def served(
    configure: Configure,
    pg_url: str,
    mlflow_server: str,
    redis_url: str,
    redis_prefix: str,
) -> Iterator[dict[str, str]]:
    """PostgreSQL, Redis and the MLflow server with a champion; yields the environment infer needs too."""
    env = {
        "DATABASE_URL": pg_url,
        "MLFLOW_TRACKING_URI": mlflow_server,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "T2B_MODEL_NAME": f"outcome-{uuid.uuid4().hex[:8]}",
        "ASYNC_JOB_TTL": JOB_TTL,
        "PREDICTION_LOG_FLUSH": "0.1",
    }
    configure(**env)
    train_champion()
    yield env
    client = redis.Redis.from_url(redis_url)
    queue = f"{redis_prefix}predictions"  # rq's keys do not carry our prefix, only the queue name does
    for key in client.scan_iter(match=f"rq:*:{queue}"):
        client.delete(key)
    client.srem("rq:queues", f"rq:queue:{queue}")


@pytest.fixture
def embedded(configure: Configure) -> None:
    """The embedded defaults: SQLite, local objects and MLflow store, no Redis, no RabbitMQ."""
    configure(T2B_MODEL_NAME=f"outcome-{uuid.uuid4().hex[:8]}")
    migrate.upgrade()
    train_champion()


def poll_until_done(status: TestClient, url: str, timeout: float = 60.0) -> list[dict]:
    """Every distinct state the task showed, up to finished or failed."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        answer = status.get(url)
        assert answer.status_code == 200, answer.text
        state = answer.json()
        if not seen or seen[-1]["status"] != state["status"]:
            seen.append(state)
        if state["status"] in ("finished", "failed"):
            return seen
        assert time.monotonic() < deadline, f"task still {state['status']} after {timeout} s"
        time.sleep(0.05)
