"""The README's main job, run as a user runs it: `t2b demo --no-serve` in a fresh data directory on the
embedded defaults (the session's `prepared_data` is that run; other tests then reuse its data)."""

from __future__ import annotations

from tests.prepared import PreparedData


def test_main_job_runs_on_embedded_defaults(prepared_data: PreparedData) -> None:
    assert "3800 matches added" in prepared_data.demo_output
    assert "raw/matches/league=SP1/season=2021-2022/part-0.parquet" in prepared_data.demo_output
    objects = prepared_data.data_dir / "objects"
    assert (objects / "raw" / "odds" / "league=E0" / "season=2017-2018" / "part-0.parquet").is_file()
