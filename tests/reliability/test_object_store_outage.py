"""The fault matrix, object-store column: with the S3 server stopped under them, the functions that read
object storage answer 503 with Retry-After and a JSON message (never 500, never the secret key), readiness
reports the object store down while the store keeps it ready, and `t2b export` exits 75 (temporary) with
one line naming the endpoint; once the server is back, all of them answer again. The S3 server is a
private moto this test starts and stops (see conftest.py); the session's is never touched."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pandas as pd
import pytest

from shared.cli.app import run as t2b
from shared.cli.errors import ExitCode
from shared.db import migrate
from shared.db.session import get_engine
from shared.ingest.football_data import import_file
from shared.ml.score import write_batch
from shared.monitoring import drift
from shared.storage import get_store
from tests.reliability.conftest import PrivateServer
from tests.services import REPO, eventually, s3_environment

SECRET = "s3-s3cr3t-key"  # moto accepts any key: it must still never be shown
MATCH_ID = 4242
KICKOFF = datetime(2022, 5, 22, 15, tzinfo=UTC)
READS = [
    ("prediction_lookup", f"/predict/{MATCH_ID}"),
    ("drift_latest", "/monitoring/drift/latest"),
]


def seed_bucket() -> None:
    """What batch scoring and the drift report leave in the bucket, through the batch's own writer: one
    scored match behind the latest-batch pointer, and a drift summary under the latest key."""
    batch = pd.DataFrame(
        {
            "match_id": [MATCH_ID],
            "league": ["E0"],
            "season": ["2021-2022"],
            "home_team": ["Arsenal"],
            "away_team": ["Everton"],
            "kickoff_utc": [pd.Timestamp(KICKOFF)],
            "p_home": [0.6],
            "p_draw": [0.25],
            "p_away": [0.15],
            "model_name": ["outcome"],
            "model_version": ["1"],
            "features_as_of": [pd.Timestamp(KICKOFF)],
            "inputs_fetched_at": [pd.NaT],
        }
    )
    store = get_store()  # creates the bucket: a restarted moto comes back empty
    write_batch(store, batch, KICKOFF)
    summary = drift.DriftSummary(
        generated_at=KICKOFF.isoformat(),
        since=None,
        until=None,
        reference_rows=100,
        current_rows=100,
        drift_share=0.0,
        dataset_drifted=False,
        columns={"p_home": drift.ColumnDrift("wasserstein", 0.1, 0.01, False)},
    )
    store.put_bytes(drift.LATEST_KEY, summary.to_json().encode(), content_type="application/json")


def export_e0(capfd: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """`t2b export --leagues E0` as the CLI runs it: its exit code and the lines it wrote on stderr."""
    capfd.readouterr()
    code = t2b(["export", "--leagues", "E0"])
    return code, capfd.readouterr().err.strip().splitlines()


@pytest.mark.s3
@pytest.mark.slow
def test_object_store_reads_answer_503_while_s3_is_down_and_recover(
    private_s3: PrivateServer, configure, client_for, caplog: pytest.LogCaptureFixture, capfd
) -> None:
    # Every request re-reads the latest-batch pointer: with the default interval a process that loaded the
    # batch answers from memory until its next re-check, and the outage would be seen only then.
    configure(**s3_environment(private_s3.url, secret_key=SECRET), MODEL_REFRESH_INTERVAL="0")
    migrate.upgrade()  # the store (SQLite) stays up: only the object store goes down
    assert import_file(get_engine(), REPO / "data" / "demo" / "football-data" / "E0" / "2021-2022.csv").ok
    seed_bucket()
    clients = {
        name: client_for(importlib.import_module(f"functions.{name}.main").app, raise_server_exceptions=False)
        for name in (*(name for name, _ in READS), "health")
    }
    for name, path in READS:  # warm: clients built, the batch loaded
        assert clients[name].get(path).status_code == 200, name
    assert export_e0(capfd)[0] == ExitCode.OK

    private_s3.stop()
    for name, path in READS:
        answer = clients[name].get(path)
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
        assert int(answer.headers["retry-after"]) > 0
        assert "object store" in answer.json()["detail"] and SECRET not in answer.text
    ready = clients["health"].get("/health/ready")
    # only the store decides readiness; object storage degrades single features and is reported
    assert ready.status_code == 200, ready.text
    assert ready.json()["dependencies"]["object_storage"]["state"].startswith("down:")
    assert SECRET not in ready.text
    code, lines = export_e0(capfd)
    assert code == ExitCode.TEMPORARY  # the README's "retry later": workflow steps retry on it
    assert len(lines) == 1 and "127.0.0.1" in lines[0] and str(private_s3.port) in lines[0], lines
    assert SECRET not in lines[0]

    private_s3.start()
    seed_bucket()  # moto keeps objects in memory only; a real S3 would still have them
    for name, path in READS:
        assert clients[name].get(path).status_code == 200, name

    def object_storage_ok() -> bool:  # a probe still retrying against the stopped server answers first
        return clients["health"].get("/health/ready").json()["dependencies"]["object_storage"]["state"] == "ok"

    eventually(object_storage_ok, 60, "readiness reports the object store back")
    assert export_e0(capfd)[0] == ExitCode.OK
    assert caplog.records and SECRET not in caplog.text  # the outage was logged, without the key
