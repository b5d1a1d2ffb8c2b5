"""Compact features of the prediction log: the stored vector, the readers, the day partitions (real
SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert, select, text

from shared.db import feature_vector
from shared.db.models import PredictionLog
from shared.db.session import get_engine, transaction
from shared.features.compute import FEATURE_NAMES
from shared.monitoring.logged import logged_predictions
from shared.prediction_log import PredictionLogWriter
from shared.prediction_log_partitions import existing_partitions
from shared.storage import LocalObjectStore


def served_features(seed: int) -> dict[str, float | None]:
    """Values as predict logs them: awkward floats, ints, and missing values as None."""
    values: dict[str, float | None] = {
        name: seed * 1000.0 / 7 + index * math.pi for index, name in enumerate(FEATURE_NAMES)
    }
    values["rest_days_home"] = seed + 3
    values["market_p_home"] = None
    return values


def log_row(served_at: datetime, seed: int, features: dict | None = None) -> dict:
    return {
        "served_at": served_at,
        "function": "predict",
        "match_id": seed,
        "home_team_id": 1,
        "away_team_id": 2,
        "kickoff_utc": served_at + timedelta(days=1),
        "model_name": "m",
        "model_version": "1",
        "p_home": 0.5,
        "p_draw": 0.3,
        "p_away": 0.2,
        "features": served_features(seed) if features is None else features,
        "cached": False,
        "latency_ms": 1.0,
    }


def test_registered_schemas_never_change_and_the_current_feature_names_have_one() -> None:
    for version, names in feature_vector.FEATURE_SCHEMAS.items():
        assert feature_vector.schema_digest(names) == feature_vector.SCHEMA_DIGESTS[version], (
            f"schema {version} changed: stored rows would decode wrongly (see shared/db/feature_vector.py)"
        )
    assert FEATURE_NAMES in feature_vector.FEATURE_SCHEMAS.values(), "register FEATURE_NAMES as a new version"


def test_a_vector_reads_back_as_the_dict_that_was_served_in_a_fifth_of_the_json() -> None:
    import json

    features = served_features(3)
    packed = feature_vector.encode(features)
    assert feature_vector.decode(packed) == features
    assert list(feature_vector.decode(packed)) == list(FEATURE_NAMES)
    assert len(packed) == 1 + 8 * len(FEATURE_NAMES) < len(json.dumps(features)) / 3
    nan_in = {**features, "elo_home": math.nan}
    assert feature_vector.decode(feature_vector.encode(nan_in))["elo_home"] is None  # as the JSON log stored NaN


def test_names_of_no_registered_schema_are_kept_as_json() -> None:
    for features in ({}, {"something_else": 1.5}, {**served_features(1), "extra": 2.0}):
        packed = feature_vector.encode(features)
        assert packed[0] == feature_vector.JSON_VERSION and feature_vector.decode(packed) == features
    with pytest.raises(ValueError, match="unknown schema version 99"):
        feature_vector.decode(bytes([99]) + b"\0" * 8)


def test_the_drift_reader_sees_the_served_values(db_url: str, tmp_path) -> None:
    engine = get_engine(db_url)
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    with transaction(engine) as session:
        session.execute(insert(PredictionLog), [log_row(day + timedelta(hours=n), n) for n in range(3)])
        stored = session.execute(text("SELECT features FROM prediction_log")).scalars().all()
    assert all(len(bytes(value)) == 1 + 8 * len(FEATURE_NAMES) for value in stored)
    frame = logged_predictions(engine, LocalObjectStore(tmp_path / "objects"), day, day + timedelta(days=1))
    for n in range(3):
        for name, value in served_features(n).items():
            cell = frame.loc[n, name]
            assert (value is None and pd.isna(cell)) or cell == value, name
    with transaction(engine) as session:  # quality reads whole rows
        assert [row.features for row in session.scalars(select(PredictionLog).order_by(PredictionLog.id))] == [
            served_features(n) for n in range(3)
        ]


def test_the_writer_creates_day_partitions_on_postgresql(pg_url: str) -> None:
    engine = get_engine(pg_url)
    writer = PredictionLogWriter(engine.url.render_as_string(hide_password=False), batch_size=10, flush_interval_s=0.2)
    writer.start()
    now = datetime.now(UTC)
    for n in range(4):
        writer.append(log_row(now, n))
    writer.close()
    with engine.connect() as connection:
        days = existing_partitions(connection)
        assert {now.date(), now.date() + timedelta(days=1)} <= set(days)
        placed = connection.execute(text("SELECT tableoid::regclass::text, count(*) FROM prediction_log GROUP BY 1"))
        assert dict(placed.all()) == {days[now.date()]: 4}
    assert writer.dropped_while_writing == 0


def test_rows_of_a_day_without_partition_wait_in_the_default_and_move_when_it_is_created(pg_url: str) -> None:
    from shared.prediction_log_partitions import DEFAULT_PARTITION, ensure_partitions

    engine = get_engine(pg_url)
    old = datetime(2026, 10, 1, 8, tzinfo=UTC)
    with transaction(engine) as session:
        session.execute(insert(PredictionLog), [log_row(old, 1), log_row(old + timedelta(hours=10), 2)])
    with engine.begin() as connection:
        assert connection.scalar(text(f"SELECT count(*) FROM {DEFAULT_PARTITION}")) == 2
        assert ensure_partitions(connection, [old.date()]) == [old.date()]
        assert ensure_partitions(connection, [old.date()]) == []
    with engine.connect() as connection:
        assert connection.scalar(text(f"SELECT count(*) FROM {DEFAULT_PARTITION}")) == 0
        assert connection.scalar(text("SELECT count(*) FROM prediction_log_p20261001")) == 2
