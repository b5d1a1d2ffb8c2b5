"""`t2b bench drift`: a drift report over N logged predictions (goal: 100,000 in under 60 s), step by step,
beside the previous path on the same rows.

Not timed: N predictions with the serving features (FEATURE_NAMES, stored as the log stores them:
compact vectors) written to a scratch SQLite store over ten days, a third of the features shifted so
that the report has drift to find; then `t2b predictions compact` with a four-day retention, so the
older days are read from their parquet files and the newer from the store and the files (as a
report over a week reads them in production).
Timed, this path: importing Evidently, reading the window columnar (shared/monitoring/logged.py),
Evidently's report (the preset's page without its unseen per-column metrics, shared/monitoring/drift.py),
HTML and JSON to a local object directory. The alternative, on the same rows: reading them as ORM
rows (one features dict per row, before compaction, when the store still holds them all) and
Evidently's own DataDriftPreset. Both must agree, row for row and column for column.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, insert, select

from shared.db import migrate
from shared.db.models import PredictionLog
from shared.db.session import engine_for, transaction
from shared.features.compute import FEATURE_NAMES
from shared.monitoring import drift, logged
from shared.prediction_log_maintenance import compact
from shared.storage import LocalObjectStore

T = TypeVar("T")
GOAL_SECONDS = 60.0
REFERENCE_ROWS = 3_000  # about the training rows of the demo table
DAYS, RETENTION_DAYS = 10, 4
START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic(rows: int, names: Sequence[str], shifted: int, seed: int) -> pd.DataFrame:
    """A column per name, the first `shifted` moved by one standard deviation; probabilities."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(names))), columns=list(names))
    frame.iloc[:, :shifted] += 1.0
    logits = rng.normal(size=(rows, 3))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for index, column in enumerate(logged.PROBABILITIES):
        frame[column] = probabilities[:, index]
    return frame


def write_log(engine: Engine, frame: pd.DataFrame, batch: int = 5_000) -> None:
    """The frame's rows as logged predictions, evenly over DAYS days from START."""
    names = [column for column in frame.columns if column not in logged.PROBABILITIES]
    features, probabilities = frame[names].to_numpy().tolist(), frame[list(logged.PROBABILITIES)].to_numpy().tolist()
    step = timedelta(days=DAYS) / len(frame)
    for offset in range(0, len(frame), batch):
        rows = [
            {
                "served_at": START + i * step,
                "function": "predict",
                "match_id": None,
                "home_team_id": 1,
                "away_team_id": 2,
                "kickoff_utc": START + timedelta(days=DAYS + 1),
                "model_name": "bench",
                "model_version": "1",
                "p_home": probabilities[i][0],
                "p_draw": probabilities[i][1],
                "p_away": probabilities[i][2],
                "features": dict(zip(names, features[i], strict=True)),
                "cached": False,
                "latency_ms": 1.0,
            }
            for i in range(offset, min(offset + batch, len(frame)))
        ]
        with transaction(engine) as session:
            session.execute(insert(PredictionLog), rows)


def orm_rows(engine: Engine, since: datetime, until: datetime) -> pd.DataFrame:
    """The previous reading: rows through the ORM type, one features dict per row, then a frame."""
    query = (
        select(PredictionLog.features, PredictionLog.p_home, PredictionLog.p_draw, PredictionLog.p_away)
        .where(PredictionLog.served_at >= since, PredictionLog.served_at < until)
        .order_by(PredictionLog.served_at, PredictionLog.id)
    )
    with transaction(engine) as session:
        rows = session.execute(query).all()
    features = pd.DataFrame.from_records([row[0] for row in rows])
    probabilities = pd.DataFrame([row[1:] for row in rows], columns=list(logged.PROBABILITIES))
    return pd.concat([features, probabilities], axis=1)


class Clock:
    """Wall seconds of each step; CPU seconds of this path's steps (the machine may be shared)."""

    def __init__(self) -> None:
        self.cpu = 0.0

    def __call__(self, step: Callable[[], T], ours: bool = True) -> tuple[T, float]:
        began, cpu = time.perf_counter(), time.process_time()
        result = step()
        if ours:
            self.cpu += time.process_time() - cpu
        return result, time.perf_counter() - began


def preset_report(reference: pd.DataFrame, current: pd.DataFrame) -> tuple[object, dict[str, tuple[str, float]]]:
    """Evidently's own DataDriftPreset on the same frames; (snapshot, column -> (method, score))."""
    report_class, preset = drift._evidently()
    columns = [column for column in reference.columns if column in current.columns]
    snapshot = report_class([preset(drift_share=drift.DATASET_DRIFT_SHARE)]).run(
        current_data=current[columns], reference_data=reference[columns]
    )
    scores = {
        metric["config"]["column"]: (metric["config"]["method"], float(metric["value"]))
        for metric in snapshot.dict()["metrics"]
        if metric["config"]["type"].endswith("ValueDrift")
    }
    return snapshot, scores


def run_bench_drift(rows: int) -> None:
    """Time a drift report over ROWS logged predictions against the goal (100,000 in < 60 s)."""
    console = Console()
    since, until = START, START + timedelta(days=DAYS)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        migrate.upgrade(url)
        engine, store = engine_for(url), LocalObjectStore(Path(scratch) / "objects")
        console.print(f"writing {rows:,} logged predictions over {DAYS} days to a scratch store (not timed)")
        write_log(engine, synthetic(rows, FEATURE_NAMES, shifted=len(FEATURE_NAMES) // 3, seed=1))
        reference = synthetic(REFERENCE_ROWS, FEATURE_NAMES, shifted=0, seed=2)

        steps: dict[str, tuple[float, float]] = {}
        clock, load = Clock(), os.getloadavg()[0]
        _, seconds = clock(drift._evidently)
        steps["import Evidently"] = (seconds, seconds)
        previous, previous_read = clock(lambda: orm_rows(engine, since, until), ours=False)
        console.print(f"compacting: days before the last {RETENTION_DAYS} to parquet only (not timed)")
        compact(engine, store, until.date(), RETENTION_DAYS)
        current, read = clock(lambda: logged.logged_predictions(engine, store, since, until))
        steps["read the prediction log"] = (read, previous_read)
        (snapshot, summary), report = clock(lambda: drift.compare(reference, current))
        (preset_snapshot, preset_scores), preset = clock(lambda: preset_report(reference, current), ours=False)
        steps["Evidently report"] = (report, preset)
        _, write = clock(lambda: drift.store_report(store, snapshot, summary))
        _, preset_write = clock(
            lambda: (preset_snapshot.get_html_str(as_iframe=False), preset_snapshot.json()), ours=False
        )
        steps["HTML + JSON to object storage"] = (write, preset_write)

    total, alternative = (sum(pair[index] for pair in steps.values()) for index in (0, 1))
    table = Table(
        "step", "this path (s)", "alternative (s)",
        title=f"drift report over {rows:,} logged predictions, {len(current.columns)} columns",
        caption="alternative: ORM rows (a features dict per row) and Evidently's DataDriftPreset, same rows",
    )  # fmt: skip
    for step, (seconds, other) in steps.items():
        table.add_row(step, f"{seconds:.2f}", f"{other:.2f}")
    table.add_row("[bold]total", f"[bold]{total:.2f}", f"[bold]{alternative:.2f}")
    console.print(table)
    same_rows = previous.equals(current[previous.columns])
    ours = {name: (column.method, column.score) for name, column in summary.columns.items()}
    console.print(f"same rows read both ways: {'yes' if same_rows else '[red]NO'}; same method and score for every "
                  f"column as the preset: {'yes' if ours == preset_scores else '[red]NO'}")  # fmt: skip
    drifted = sum(column.drifted for column in summary.columns.values())
    console.print(f"drift share {summary.drift_share:.2f} ({drifted} of {len(summary.columns)} columns; "
                  f"{len(FEATURE_NAMES) // 3} features were shifted)")  # fmt: skip
    console.print(f"this path used {clock.cpu:.1f} s of CPU; load average {load:.1f} on {os.cpu_count()} cores "
                  "when the timed steps began (wall seconds grow with other work on the machine)")  # fmt: skip
    verdict = "[green]met" if total < GOAL_SECONDS else "[red]not met"
    console.print(f"goal: < {GOAL_SECONDS:.0f} s for 100,000 rows -> {total:.1f} s "
                  f"(the alternative: {alternative:.1f} s): {verdict}")  # fmt: skip
