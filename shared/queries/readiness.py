"""Readiness: each dependency probed in a worker thread against a deadline.

Only the store decides readiness: no function answers without it, whereas object storage, MLflow
and Redis (a cache) failures degrade single features, so they are reported, never fatal.
A probe that overruns its deadline keeps its thread, and the next request waits on that same
probe instead of starting another: a hung dependency holds one thread at most, and a slow first
answer (MLflow creating its tables on a fresh database) still reaches a later request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import text

from shared.config import Settings
from shared.db.session import engine_for
from shared.serving import aliases
from shared.storage import store_from_settings

# shared.ml.registry.CHAMPION, not imported from there: that module pulls in the training stack
CHAMPION_ALIAS = "champion"
# a prefix the platform writes (parquet exports), listed to prove the bucket answers
PROBED_PREFIX = "raw/"
STORE_TIMEOUT_S = 2.0
OBJECT_STORAGE_TIMEOUT_S = 2.0
MLFLOW_TIMEOUT_S = 3.0
REDIS_TIMEOUT_S = 1.0

OK = "ok"
NOT_CONFIGURED = "not configured"
NO_CHAMPION = "no champion yet"


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"


class DependencyState(BaseModel):
    state: str = Field(description='"ok", "not configured", "no champion yet" or "down: <reason>"')
    required: bool = Field(default=False, description="the function is unready while this one is down")
    waited_ms: float | None = Field(default=None, description="how long this request waited for the probe")
    champion_version: str | None = Field(default=None, description="MLflow only: the version the alias names")


class Readiness(BaseModel):
    ready: bool
    dependencies: dict[str, DependencyState]


@dataclass(frozen=True)
class Probe:
    name: str
    target: str  # what the probe talks to; requests probing the same target share one thread
    timeout_s: float
    required: bool
    check: Callable[[], DependencyState]


# four probes per configuration, room for one hung set beside a healthy one
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readiness")
_in_flight: dict[tuple[str, str], Future[DependencyState]] = {}
_in_flight_lock = threading.Lock()


def readiness(settings: Settings) -> Readiness:
    return run_probes(probes(settings))


def run_probes(to_run: list[Probe]) -> Readiness:
    """Start every probe at once; each gets its own deadline, counted from now."""
    started = time.monotonic()
    running = [(probe, _start(probe)) for probe in to_run]
    states = {probe.name: _await(probe, future, started) for probe, future in running}
    ready = all(state.state == OK for state in states.values() if state.required)
    return Readiness(ready=ready, dependencies=states)


def probes(settings: Settings) -> list[Probe]:
    return [
        Probe("store", settings.resolved_database_url, STORE_TIMEOUT_S, True, partial(check_store, settings)),
        Probe(
            "object_storage",
            f"{settings.s3_endpoint}/{settings.s3_bucket}"
            if settings.s3_endpoint
            else str(settings.resolved_objects_dir),
            OBJECT_STORAGE_TIMEOUT_S,
            False,
            partial(check_object_storage, settings),
        ),
        Probe(
            "mlflow",
            f"{settings.resolved_mlflow_tracking_uri}#{settings.model_name}",
            MLFLOW_TIMEOUT_S,
            False,
            partial(check_mlflow, settings),
        ),
        Probe("redis", settings.redis_url or "", REDIS_TIMEOUT_S, False, partial(check_redis, settings)),
    ]


def _start(probe: Probe) -> Future[DependencyState]:
    key = (probe.name, probe.target)
    with _in_flight_lock:
        future = _in_flight.get(key)
        if future is None or future.done():
            future = _executor.submit(probe.check)
            _in_flight[key] = future
        return future


def _await(probe: Probe, future: Future[DependencyState], started: float) -> DependencyState:
    remaining = probe.timeout_s - (time.monotonic() - started)
    try:
        state = future.result(timeout=max(remaining, 0.0))
    except TimeoutError:
        state = DependencyState(state=f"down: no answer within {probe.timeout_s:g} s")
    except Exception as exc:
        state = DependencyState(state=f"down: {describe(exc)}")
    waited_ms = round((time.monotonic() - started) * 1000, 1)
    return state.model_copy(update={"required": probe.required, "waited_ms": waited_ms})


def describe(exc: BaseException) -> str:
    """The exception's type and first line: enough to act on, short enough for a status page."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


# --- the probes -------------------------------------------------------------------------------


def check_store(settings: Settings) -> DependencyState:
    with engine_for(settings.resolved_database_url, settings.database_echo).connect() as connection:
        connection.execute(text("SELECT 1"))
    return DependencyState(state=OK)


def check_object_storage(settings: Settings) -> DependencyState:
    next(iter(store_from_settings(settings).list_keys(PROBED_PREFIX)), None)
    return DependencyState(state=OK)


def check_mlflow(settings: Settings) -> DependencyState:
    try:
        version = aliases.resolve(settings.resolved_mlflow_tracking_uri, settings.model_name, CHAMPION_ALIAS)
    except aliases.AliasUnresolved:  # no such model, or no such alias on it
        return DependencyState(state=NO_CHAMPION)
    return DependencyState(state=OK, champion_version=version.version)


def check_redis(settings: Settings) -> DependencyState:
    if not settings.redis_url:
        return DependencyState(state=NOT_CONFIGURED)
    import redis  # imported here: Redis is optional and its client may not be installed

    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()
    return DependencyState(state=OK)
