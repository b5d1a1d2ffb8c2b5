"""`t2b predictions compact` on real SQLite and PostgreSQL, with the local object store."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import func, insert, select, text

from shared.cli.app import run
from shared.db.models import PredictionLog
from shared.db.session import get_engine, transaction
from shared.prediction_log_maintenance import FEATURE_PREFIX, compact, export_key
from shared.prediction_log_partitions import ensure_partitions, existing_partitions
from shared.storage import LocalObjectStore
from tests.serving.test_prediction_log_compact import log_row, served_features

TODAY = date(2026, 12, 2)


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def add_rows(engine, rows: list[dict]) -> None:
    with transaction(engine) as session:
        session.execute(insert(PredictionLog), rows)


def stored_days(engine) -> dict[date, int]:
    with engine.connect() as connection:
        served = connection.scalars(select(PredictionLog.served_at)).all()
    return pd.Series([moment.date() for moment in served]).value_counts().to_dict() if served else {}


def exported(store: LocalObjectStore, day: date) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(store.get_bytes(export_key(day))))


def test_settled_days_are_exported_once_and_old_days_leave_the_store(db_url: str, tmp_path) -> None:
    engine, store = get_engine(db_url), LocalObjectStore(tmp_path / "objects")
    old, recent = TODAY - timedelta(days=7), TODAY - timedelta(days=2)
    with engine.begin() as connection:
        ensure_partitions(connection, [recent])  # on PostgreSQL: `old` waits in the default partition
    add_rows(engine, [log_row(at(old, 9), 1), log_row(at(old, 23), 2)])
    add_rows(engine, [log_row(at(recent, 0), 3), log_row(at(recent, 12), 4), log_row(at(TODAY, 1), 5)])

    report = compact(engine, store, TODAY, retention_days=3)
    assert report.exported_rows == {old: 2, recent: 2} and report.removed_days == [old]
    assert stored_days(engine) == {recent: 2, TODAY: 1}  # today is not settled: neither exported nor removed
    old_file = exported(store, old)
    assert old_file["match_id"].tolist() == [1, 2]
    assert old_file.loc[0, FEATURE_PREFIX + "elo_home"] == served_features(1)["elo_home"]
    assert old_file[FEATURE_PREFIX + "market_p_home"].isna().all()

    again = compact(engine, store, TODAY, retention_days=3)
    assert again.exported_rows == {} and again.removed_days == []

    add_rows(engine, [log_row(at(recent, 23), 6)])  # a batch that was in flight at midnight
    late = compact(engine, store, TODAY, retention_days=3)
    assert late.exported_rows == {recent: 1}
    assert sorted(exported(store, recent)["match_id"]) == [3, 4, 6]

    final = compact(engine, store, TODAY, retention_days=0)
    assert final.exported_rows == {} and final.removed_days == [recent]
    assert stored_days(engine) == {TODAY: 1}
    assert exported(store, recent)["id"].is_unique and len(exported(store, recent)) == 3


def test_on_postgresql_old_days_are_dropped_as_partitions_and_days_ahead_exist(pg_url: str, tmp_path) -> None:
    engine, store = get_engine(pg_url), LocalObjectStore(tmp_path / "objects")
    old = TODAY - timedelta(days=10)
    with engine.begin() as connection:
        ensure_partitions(connection, [old, old + timedelta(days=1)])  # the second stays empty
    add_rows(engine, [log_row(at(old, 10), 1)])
    report = compact(engine, store, TODAY, retention_days=2)
    assert report.removed_days == [old, old + timedelta(days=1)]
    assert report.created_partitions == [TODAY, TODAY + timedelta(days=1)]
    with engine.connect() as connection:
        assert set(existing_partitions(connection)) == {TODAY, TODAY + timedelta(days=1)}
        assert connection.scalar(select(func.count()).select_from(PredictionLog)) == 0
        assert connection.scalar(text("SELECT count(*) FROM prediction_log_default")) == 0
    assert exported(store, old)["match_id"].tolist() == [1]


def test_a_negative_retention_is_bad_input() -> None:
    assert run(["predictions", "compact", "--retention-days", "-1"]) == 2


def test_the_soak_measures_feature_bytes_both_ways_and_the_sqlite_file(sqlite_url: str) -> None:
    from shared.bench.soak import feature_bytes, logged_rows, store_bytes

    engine = get_engine(sqlite_url)
    empty = store_bytes(engine)
    add_rows(engine, [log_row(at(TODAY, hour), hour) for hour in range(20)])
    sizes = feature_bytes(engine)
    assert sizes.compact == 273 and sizes.json > 3 * sizes.compact
    assert logged_rows(engine) == 20 and store_bytes(engine) > empty
