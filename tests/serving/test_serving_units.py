"""The pieces of the warm path without services: the native booster, request metrics, log batches."""

from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import lightgbm as lgb
import numpy as np
import psutil
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shared.clock import utcnow
from shared.db.models import PredictionLog
from shared.db.session import get_engine
from shared.function_spec import FunctionSpec
from shared.metrics import REQUESTS
from shared.prediction_log import PredictionLogWriter
from shared.processes import REPO
from shared.serving.booster import NativeBooster
from shared.web.app import create_function_app


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(600, 6))
    labels = (features[:, 0] > 0).astype(int) + (features[:, 1] > 0.5).astype(int)
    data = lgb.Dataset(features, labels, params={"verbose": -1})
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": 7, "verbose": -1, "seed": 1}
    return lgb.train(params, data, num_boost_round=25)


def test_native_booster_scores_exactly_as_lightgbm(booster: lgb.Booster) -> None:
    native = NativeBooster(booster.model_to_string())
    assert (native.num_classes, native.num_features) == (3, 6)
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(300, 6))
    matrix[rng.random(matrix.shape) < 0.15] = np.nan  # missing values take the trees' default branches
    np.testing.assert_array_equal(native.predict(matrix, raw_score=True), booster.predict(matrix, raw_score=True))
    np.testing.assert_array_equal(native.predict(matrix), booster.predict(matrix))
    one = matrix[:1].astype(np.float32)  # any dtype and one row, as serving sends
    np.testing.assert_array_equal(native.predict(one, raw_score=True), booster.predict(one, raw_score=True))
    with pytest.raises(ValueError, match="expects 6 features"):
        native.predict(matrix[:, :5])


def test_single_row_fast_path_scores_every_row_as_the_matrix_call(booster: lgb.Booster) -> None:
    """One-row raw scores come from LightGBM's fast single-row API: row by row, from several threads
    at once, they equal the whole-matrix call (and lightgbm's own), bit for bit."""
    native = NativeBooster(booster.model_to_string())
    rng = np.random.default_rng(11)
    matrix = rng.normal(size=(400, 6))
    matrix[rng.random(matrix.shape) < 0.15] = np.nan
    whole = native.predict(matrix, raw_score=True)
    np.testing.assert_array_equal(whole, booster.predict(matrix, raw_score=True))

    def row_by_row(rows: range) -> np.ndarray:
        return np.vstack([native.predict(matrix[i : i + 1], raw_score=True) for i in rows])

    with ThreadPoolExecutor(max_workers=4) as pool:
        parts = list(pool.map(row_by_row, [range(start, 400, 4) for start in range(4)]))
    for start, part in enumerate(parts):
        np.testing.assert_array_equal(part, whole[start::4])


def requests_counted(function: str, route: str, status: str) -> float:
    return REQUESTS.labels(function, route, "GET", status)._value.get()


def test_request_metrics_by_route_template_and_status() -> None:
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    spec = FunctionSpec(name="metrics-probe", kind="http", description="test", queue="api", routes=["/things"])
    app = create_function_app(spec, [router])
    keys = [("/things/{thing_id}", "200"), ("/things/{thing_id}", "422"), ("unmatched", "404"), ("/boom", "500")]
    before = {key: requests_counted("metrics-probe", *key) for key in keys}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/things/1").json() == {"id": 1}
        assert client.get("/things/2").status_code == 200
        assert client.get("/things/abc").status_code == 422
        assert client.get("/nowhere").status_code == 404
        failed = client.get("/boom")
        assert failed.status_code == 500 and "internal error" in failed.json()["detail"]
        assert client.get("/metrics").status_code == 200
    after = {key: requests_counted("metrics-probe", *key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        ("/things/{thing_id}", "200"): 2,
        ("/things/{thing_id}", "422"): 1,
        ("unmatched", "404"): 1,
        ("/boom", "500"): 1,
    }
    assert requests_counted("metrics-probe", "/metrics", "200") == 0  # scrapes are not requests


def test_log_rows_are_written_by_the_child_process_and_flushed_on_close(sqlite_url: str) -> None:
    engine = get_engine(sqlite_url)
    writer = PredictionLogWriter(engine.url.render_as_string(hide_password=False), batch_size=3, flush_interval_s=0.3)
    writer.start()
    for n in range(5):
        writer.append(log_row(n))
    deadline = time.monotonic() + 30
    while count_rows(engine) < 5:  # 3 as a full batch, 2 after the flush interval
        assert time.monotonic() < deadline, "rows not written"
        time.sleep(0.05)
    writer.append(log_row(5))
    writer.close()  # what is queued is written before the writer stops
    assert count_rows(engine) == 6 and writer.dropped_while_writing == 0
    with engine.connect() as connection:
        stored = connection.execute(select(PredictionLog.features).where(PredictionLog.match_id == 5)).scalar_one()
    assert stored == {"elo_diff": 12.5, "market_p_home": None}


# A serving process that hands rows to its writer, prints the writer's pid, and is then killed.
KILLED_PARENT = """
import os, signal, sys, time
from tests.serving.test_serving_units import log_row
from shared.prediction_log import PredictionLogWriter
writer = PredictionLogWriter(sys.argv[1], batch_size=100, flush_interval_s=0.2, handoff_rows=2)
writer.start()
writer.append(log_row(1))
writer.append(log_row(2))
print(writer._process.pid, flush=True)
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_writer_of_a_killed_process_writes_what_it_was_handed_and_exits(sqlite_url: str) -> None:
    """A function process killed with no chance to close (SIGKILL, the OOM killer) must not leave its
    writer running for ever, an orphan: the writer notices its parent is gone once its queue is empty."""
    engine = get_engine(sqlite_url)
    url = engine.url.render_as_string(hide_password=False)
    parent = subprocess.run(
        [sys.executable, "-c", KILLED_PARENT, url], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert parent.returncode == -signal.SIGKILL, parent.stderr
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(int(parent.stdout)).wait(timeout=10)  # TimeoutExpired: the orphan stays
    assert count_rows(engine) == 2


def test_rows_the_store_refuses_are_counted_as_dropped(tmp_path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'no-tables.db'}")  # never migrated: inserts fail
    writer = PredictionLogWriter(engine.url.render_as_string(hide_password=False), batch_size=2, flush_interval_s=0.2)
    writer.start()
    writer.append(log_row(1))
    writer.append(log_row(2))
    writer.close()
    assert writer.dropped_while_writing == 2


def log_row(n: int) -> dict:
    return {
        "served_at": utcnow(),
        "function": "predict",
        "match_id": n,
        "home_team_id": 1,
        "away_team_id": 2,
        "kickoff_utc": utcnow(),
        "model_name": "m",
        "model_version": "1",
        "p_home": 0.5,
        "p_draw": 0.3,
        "p_away": 0.2,
        "features": {"elo_diff": 12.5, "market_p_home": math.nan},  # no price: null in the stored JSON
        "cached": False,
        "latency_ms": 1.0,
    }


def count_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(PredictionLog))


def test_concurrent_first_requests_share_one_data_plane(make_services) -> None:
    """Worker threads asking for the data plane at once get one, so one log writer process (members
    are built under the services' lock)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    services = make_services()
    start_together = Barrier(8)

    def first_request(_n: int) -> int:
        start_together.wait()
        return id(services.predictions)

    with ThreadPoolExecutor(8) as pool:
        assert len(set(pool.map(first_request, range(8)))) == 1
    assert services.built("prediction_log")


def test_closed_services_release_their_members_and_refuse_new_ones(make_services) -> None:
    from shared.services import ServicesClosed

    services = make_services()
    engine, writer = services.engine, services.prediction_log
    assert services.engine is engine  # built once
    services.close()
    assert not services.built("engine") and writer._process is None  # the log writer stopped
    with pytest.raises(ServicesClosed):
        _ = services.store


def test_a_shared_interpreter_keeps_the_default_collector(make_services) -> None:
    """`t2b up` hosts every function in one interpreter: predict's GC tuning must not apply there."""
    import gc

    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    make_services().predictions.settle_heap()  # a test process shares its interpreter too
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)
