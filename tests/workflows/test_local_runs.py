"""The rendered pipelines run locally on the demo data: etl -> training -> batch-scoring, then a bad input.

Each step is a real `t2b` process on the embedded defaults of the module's data directory (SQLite store,
local object directory, local MLflow) plus the local Redis under a key prefix of its own; the exit
handler publishes to the in-process bus, whose workflow-runs consumer writes the store. The three runs
happen once for the module (`runs`); each test checks one pipeline's results.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from shared.cli.app import run as t2b
from shared.cli.errors import CommandError, ExitCode
from shared.db import migrate
from shared.db.models import Match, WorkflowRun
from shared.db.session import engine_for, transaction
from shared.features.state import TEAM_STATE_KEY
from shared.ml.registry import aliases_of, tracking_client
from shared.services import Services
from shared.serving.batch_lookup import LATEST_POINTER
from shared.serving.online_features import TEAM_STATE
from shared.storage import LocalObjectStore
from shared.workflows.cli import workflows_app
from shared.workflows.render import load
from shared.workflows.runner import Run, run_workflow
from tests.services import free_port, listening, require
from tests.workflows.conftest import LocalData, local_environment

# One league of the demo data (data/demo/football-data/E0: five seasons) keeps the runs short; the
# pipelines treat every league alike.
DEMO_SOURCE = "data/demo/football-data/E0"
DEMO_FILES = 5
DEMO_MATCHES = 1900
REDIS = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class PipelineRuns:
    data: LocalData
    redis_prefix: str
    etl: Run
    training: Run
    scoring: Run


def run(name: str, data: LocalData, **parameters: str) -> Run:
    result = run_workflow(load(name), parameters, data.data_dir / "workflows")
    assert result.status == "Succeeded", {n.name: (n.phase, n.message) for n in result.nodes.values()}
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineRuns]:
    require(listening("127.0.0.1", 6379), "Redis is not listening on 127.0.0.1:6379")
    prefix = f"t2b-workflows-{uuid.uuid4().hex[:8]}:"
    root = tmp_path_factory.mktemp("pipelines")
    with pytest.MonkeyPatch.context() as monkeypatch, local_environment(root, monkeypatch) as data:
        monkeypatch.setenv("REDIS_URL", REDIS)
        monkeypatch.setenv("REDIS_KEY_PREFIX", prefix)
        yield PipelineRuns(
            data,
            prefix,
            etl=run("etl-nightly", data, source=DEMO_SOURCE),  # the cron's arguments: scraping stays off
            training=run("training", data, params=str(data.params)),
            scoring=run("batch-scoring", data, params=str(data.params), **{"as-of": "2022-01-01"}),
        )
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


def recorded_runs(data: LocalData) -> list[tuple[str, str, str | None]]:
    with transaction(engine_for(data.database)) as session:
        rows = session.scalars(select(WorkflowRun).order_by(WorkflowRun.id)).all()
        return [(row.pipeline, row.status, row.failed_step) for row in rows]


def test_etl_imports_and_exports_the_demo_data(runs: PipelineRuns) -> None:
    assert runs.etl.nodes["scrape"].phase == "Skipped" and runs.etl.nodes["import"].attempts == 1
    with transaction(engine_for(runs.data.database)) as session:
        assert session.scalar(select(func.count()).select_from(Match)) == DEMO_MATCHES
    objects = runs.data.objects
    exported = sorted(path.relative_to(objects) for path in objects.rglob("*.parquet"))
    assert len([p for p in exported if p.parts[:2] == ("raw", "matches")]) == DEMO_FILES
    assert any(p.parts[:4] == ("raw", "odds", "league=E0", "season=2021-2022") for p in exported)


def test_training_registers_a_challenger_and_the_gate_makes_it_champion(runs: PipelineRuns) -> None:
    nodes = runs.training.nodes
    assert [name for name in nodes if not name.startswith("onExit")] == [
        "features",
        "train",
        "evaluate",
        "register",
        "gate",
    ]
    assert nodes["register"].outputs == {"model-version": "1"}
    assert nodes["gate"].outputs == {"promoted": "true", "champion-version": "1"}
    assert 0.1 < float(nodes["evaluate"].outputs["rps"]) < 0.3
    assert abs(float(nodes["evaluate"].outputs["gap-to-market"])) < 0.05
    assert "| Forecaster |" in nodes["evaluate"].artifacts["evaluation"].read_text()
    assert any(nodes["evaluate"].artifacts["plots"].glob("*.png"))
    assert json.loads(nodes["register"].artifacts["registered"].read_text())["version"] == 1
    assert aliases_of(tracking_client(), runs.data.model_name) == {"challenger": "1", "champion": "1"}


def test_the_gate_command_exits_0_when_it_keeps_the_champion_and_2_on_bad_input(
    runs: PipelineRuns, tmp_path: Path
) -> None:
    features = runs.training.nodes["features"].artifacts["features"]
    decision = tmp_path / "gate.json"
    assert t2b(["model", "gate", "1", "--features", str(features), "--out", str(decision)]) == ExitCode.OK
    verdict = json.loads(decision.read_text())
    assert (verdict["promoted"], verdict["champion"], verdict["previous_champion"]) == (False, 1, 1)
    registered = runs.training.nodes["register"].artifacts["registered"]
    for arguments in (
        ["7", "--features", str(features)],  # no such version
        ["1", "--features", str(features), "--registered", str(registered)],  # two candidates
        ["--features", str(features), "--registered", str(tmp_path / "none.json")],
    ):
        assert t2b(["model", "gate", *arguments]) == ExitCode.BAD_INPUT, arguments


def test_batch_scoring_writes_the_batch_and_warms_the_team_state(runs: PipelineRuns) -> None:
    store = LocalObjectStore(runs.data.objects)
    pointer = json.loads(store.get_bytes(LATEST_POINTER))
    batch = pq.read_table(io.BytesIO(store.get_bytes(pointer["key"])))
    assert pointer["key"].startswith("predictions/batch/date=2022-01-01/") and batch.num_rows > 100
    assert set(batch.column("model_version").to_pylist()) == {"1"}
    warm_up = runs.scoring.nodes["cache-warm-up"].outputs
    assert warm_up["batch-key"] == pointer["key"] and int(warm_up["predictions"]) == batch.num_rows
    assert warm_up["team-state-warmed"] == "true"

    with Services.from_environment(shares_interpreter=True) as services:  # what POST /predict's replicas read
        warmed = services.cache.get_json(TEAM_STATE, "latest")
        assert warmed == services.store.get_bytes(TEAM_STATE_KEY).decode()


def test_the_warm_up_checks_the_batch_without_redis_and_exits_75_when_redis_is_down(
    runs: PipelineRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "warm-up.json"
    monkeypatch.delenv("REDIS_URL")
    assert t2b(["cache", "warm", "--out", str(summary)]) == ExitCode.OK
    assert json.loads(summary.read_text()) | {"batch_key": "-"} == {
        "batch_key": "-",
        "predictions": int(runs.scoring.nodes["cache-warm-up"].outputs["predictions"]),
        "batch_model_version": "1",
        "team_state_warmed": False,
    }
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert t2b(["cache", "warm"]) == ExitCode.TEMPORARY
    monkeypatch.setenv("T2B_DATA_DIR", str(tmp_path / "nothing-scored"))
    assert t2b(["cache", "warm"]) == ExitCode.FAILED


def test_every_run_is_recorded_and_listed_by_get_sources(runs: PipelineRuns) -> None:
    assert recorded_runs(runs.data) == [
        ("etl", "Succeeded", None),
        ("training", "Succeeded", None),
        ("batch-scoring", "Succeeded", None),
    ]
    from functions.sources.main import app

    with TestClient(app) as client:
        listed = {entry["pipeline"]: entry["runs"] for entry in client.get("/sources").json()["workflows"]}
    assert {pipeline: [run["status"] for run in runs] for pipeline, runs in listed.items()} == {
        "etl": ["Succeeded"],
        "training": ["Succeeded"],
        "batch-scoring": ["Succeeded"],
    }


def test_a_bad_input_fails_once_names_the_step_and_is_recorded(local_data: LocalData) -> None:
    """Through the command (in this process, so the step server started above is reused)."""
    migrate.upgrade(local_data.database)
    missing = local_data.data_dir / "no-such-params.yaml"
    result = CliRunner().invoke(workflows_app, ["run", "training", "-p", f"params={missing}"])
    assert isinstance(result.exception, CommandError) and result.exception.code == ExitCode.FAILED
    assert "step features failed: exit code 2" in str(result.exception) and "does not exist" in str(result.exception)
    [log] = (local_data.data_dir / "workflows").glob("training-*/logs/features.log")
    assert log.read_text().count("$ t2b ") == 1, "exit 2 (bad input) must not be retried"
    assert "features: Failed" in result.stdout and "train: Omitted" in result.stdout
    assert recorded_runs(local_data) == [("training", "Failed", "features")]
