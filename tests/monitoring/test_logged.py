"""The prediction log read columnar for the drift report, on SQLite and PostgreSQL: compact vectors decoded
together, the odd JSON row, the time window, and days `t2b predictions compact` moved to parquet (counted once)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.db.feature_vector import encode
from shared.db.session import engine_for
from shared.features.compute import FEATURE_NAMES
from shared.monitoring import logged
from shared.prediction_log_maintenance import compact
from shared.storage import LocalObjectStore
from tests.monitoring.store_rows import log_prediction

DAY = datetime(2026, 11, 26, tzinfo=UTC)
KICKOFF = DAY + timedelta(days=5)


def features(value: float) -> dict[str, float | None]:
    """Every serving feature, the first one missing (a NaN in the frame)."""
    return {name: None if index == 0 else value + index for index, name in enumerate(FEATURE_NAMES)}


def log(engine, served_at: datetime, p_home: float, row_features: dict) -> None:
    log_prediction(engine, served_at, (p_home, 0.3, 0.7 - p_home), "1", None, (1, 2), KICKOFF, row_features)


def test_vectors_json_rows_and_the_window(db_url: str, tmp_path: Path) -> None:
    engine, store = engine_for(db_url), LocalObjectStore(tmp_path / "objects")
    log(engine, DAY + timedelta(hours=3), 0.5, features(1.0))
    log(engine, DAY + timedelta(hours=1), 0.4, features(2.0))
    log(engine, DAY + timedelta(hours=2), 0.3, {"elo_diff": 7.5})  # names of no registered schema: JSON
    log(engine, DAY + timedelta(hours=4), 0.2, features(3.0))  # after the window

    frame = logged.logged_predictions(engine, store, DAY, DAY + timedelta(hours=4))

    assert frame["p_home"].tolist() == [0.4, 0.3, 0.5]  # by the time served
    assert set(frame.columns) == set(FEATURE_NAMES) | set(logged.PROBABILITIES)
    assert frame[FEATURE_NAMES[1]].tolist()[::2] == [3.0, 2.0] and frame[FEATURE_NAMES[-1]].iloc[0] == 2.0 + 33
    assert frame[FEATURE_NAMES[0]].isna().all()  # missing in every row
    assert frame.loc[1, "elo_diff"] == 7.5 and frame.loc[1, [n for n in FEATURE_NAMES if n != "elo_diff"]].isna().all()
    with pytest.raises(logged.NoPredictions, match="no logged predictions"):
        logged.logged_predictions(engine, store, DAY + timedelta(days=1), DAY + timedelta(days=2))


def test_compacted_days_are_read_from_parquet_once(db_url: str, tmp_path: Path) -> None:
    engine, store = engine_for(db_url), LocalObjectStore(tmp_path / "objects")
    for day in range(3):
        for hour in (6, 18):
            log(engine, DAY + timedelta(days=day, hours=hour), 0.1 * (day + 1) + 0.01 * hour / 6, features(day))
    # the first day leaves the store (parquet only), the second is in both, the third in the store only
    report = compact(engine, store, (DAY + timedelta(days=2)).date(), retention_days=1)
    assert report.removed_days == [DAY.date()] and sorted(report.exported_rows) == [
        DAY.date(),
        (DAY + timedelta(1)).date(),
    ]

    frame = logged.logged_predictions(engine, store, DAY, DAY + timedelta(days=3))
    assert frame["p_home"].round(2).tolist() == [0.11, 0.13, 0.21, 0.23, 0.31, 0.33]
    assert frame[FEATURE_NAMES[1]].tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert frame[FEATURE_NAMES[0]].isna().all()
    # a window starting within an exported day
    later = logged.logged_predictions(engine, store, DAY + timedelta(hours=12), DAY + timedelta(days=1, hours=12))
    assert later["p_home"].round(2).tolist() == [0.13, 0.21]


def test_a_vector_of_an_unknown_version_or_length_is_refused() -> None:
    good = encode(features(1.0))
    assert logged.feature_frame([good]).iloc[0, 1:].tolist() == [1.0 + i for i in range(1, len(FEATURE_NAMES))]
    assert math.isnan(logged.feature_frame([good]).iloc[0, 0])
    with pytest.raises(ValueError, match="unknown schema version 9"):
        logged.feature_frame([bytes([9]) + good[1:]])
    with pytest.raises(ValueError, match="is not 273 bytes"):
        logged.feature_frame([good, good[:-8]])
