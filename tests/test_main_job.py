"""The README's main job, run as a user runs it: the `t2b` command in a fresh data directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.services import REPO, python_bin


@pytest.mark.slow
def test_main_job_runs_on_embedded_defaults(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL"}
    }
    env.update(T2B_DATA_DIR=str(tmp_path / "var"), COLUMNS="200")
    result = subprocess.run(
        [python_bin("t2b"), "demo", "--no-serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3800 matches added" in result.stdout
    assert "raw/matches/league=SP1/season=2021-2022/part-0.parquet" in result.stdout
    assert (
        tmp_path / "var" / "objects" / "raw" / "odds" / "league=E0" / "season=2017-2018" / "part-0.parquet"
    ).is_file()
