"""A self-contained data dir on the embedded defaults with a champion model, for the serving benchmark."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from shared.processes import REPO, beside_python, free_port, listening, start_process, stop_process

DEMO_DATA = REPO / "data" / "demo" / "football-data"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
# Unset so that the store, objects and MLflow are the embedded ones under the bench's data dir.
BACKEND_VARIABLES = ("DATABASE_URL", "S3_ENDPOINT", "T2B_OBJECTS_DIR", "MLFLOW_TRACKING_URI", "AMQP_URL")


@dataclass(frozen=True)
class Fixture:
    data_dir: Path
    redis_url: str | None
    redis_prefix: str
    model_name: str
    model_version: str
    team_pairs: list[tuple[str, str]]  # same-league pairs with a materialised state
    kickoff: datetime  # after every result the team state includes


def find_redis() -> str | None:
    """REDIS_URL when set, else the local server if it listens; None means the cache runs are skipped."""
    from shared.config import get_settings

    configured = get_settings().redis_url
    if configured:
        return configured
    return LOCAL_REDIS if listening("127.0.0.1", 6379) else None


def use_embedded_defaults(data_dir: Path, redis_url: str | None, redis_prefix: str) -> None:
    """Point this process (and so every server it starts) at `data_dir`."""
    for name in BACKEND_VARIABLES:
        os.environ.pop(name, None)
    os.environ["T2B_DATA_DIR"] = str(data_dir)
    os.environ["REDIS_KEY_PREFIX"] = redis_prefix
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)


def prepare(data_dir: Path, redis_url: str | None, notify: Callable[[str], None]) -> Fixture:
    """Import the demo data and train, register and promote a champion (about 20 s)."""
    from shared.config import get_settings
    from shared.db import migrate
    from shared.db.session import get_engine
    from shared.ingest.football_data import discover, import_file
    from shared.ml.pipeline import run_ml_demo
    from shared.storage import get_store

    prefix = f"t2b-bench-{uuid.uuid4().hex[:8]}:"
    use_embedded_defaults(data_dir, redis_url, prefix)
    migrate.upgrade()
    engine = get_engine()
    for path in discover([DEMO_DATA]):
        result = import_file(engine, path)
        if not result.ok:
            raise RuntimeError(f"demo data rejected: {result.errors[0]}")
        notify(f"imported {path.name}")
    run_ml_demo(engine, get_store(), notify)
    settings = get_settings()
    pairs, kickoff = _team_pairs()
    return Fixture(data_dir, redis_url, prefix, settings.model_name, _champion_version(), pairs, kickoff)


@contextmanager
def tracking_server(logs: Path) -> Iterator[str]:
    """`mlflow server` on loopback over the bench's embedded store (its SQLite registry and artifacts), so a
    function can resolve the same champion over MLflow's REST API; yields the tracking URI."""
    from shared.config import get_settings

    settings = get_settings()
    port = free_port()
    args = [beside_python("mlflow"), "server", "--backend-store-uri", settings.resolved_mlflow_tracking_uri,
            "--default-artifact-root", str(settings.mlflow_artifacts_dir), "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1"]  # fmt: skip
    # No job runner: its consumer would outlive the server's SIGTERM (tests/mlflow_fixtures.py says more).
    environment = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = start_process(args, port, logs / f"mlflow-server-{port}.log", env=environment, timeout=120.0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(process)


def _champion_version() -> str:
    from shared.config import get_settings
    from shared.ml.registry import CHAMPION, resolve_alias, tracking_client

    return str(resolve_alias(tracking_client(), get_settings().model_name, CHAMPION).version)


def _team_pairs() -> tuple[list[tuple[str, str]], datetime]:
    from shared.db.session import get_engine
    from shared.features.state import load_state
    from shared.serving.teams import TeamDirectory
    from shared.storage import get_store

    state = load_state(get_store())
    names = TeamDirectory.load(get_engine()).names
    teams = list(state.teams.values())
    pairs = [(names[h.team_id], names[a.team_id]) for h in teams for a in teams if h.league == a.league and h is not a]
    if not pairs:
        raise RuntimeError("the team state has no two teams of one league")
    last = max(team.last_kickoff for team in teams if team.last_kickoff is not None)
    return pairs, last + timedelta(days=7)


def drop_redis_keys(redis_url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()
