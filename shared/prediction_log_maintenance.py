"""`t2b predictions compact`: settled days of the prediction log to parquet, then old days out of the store.

A day is settled once it is over (UTC): predict only logs rows served now, so a past day receives
nothing new — except a batch in flight at midnight, which is why an export is a merge: a day already
exported is rewritten only if the store holds rows (by id) its file lacks, and then with the union.
Re-running therefore exports nothing twice and loses nothing; a day is removed from the store only
after its file holds every one of its rows. Files: predictions/log/date=YYYY-MM-DD/part-0.parquet in
the object store, one column per feature (`feature.<name>`). Days older than the retention
(PREDICTION_LOG_RETENTION_DAYS, counted back from today) leave the store: on PostgreSQL their day
partition is dropped (rows of the DEFAULT partition deleted), on SQLite their rows are deleted.
The step also creates today's and tomorrow's partitions, so a writer never has to.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, delete, select, text

from shared.db.models import PredictionLog
from shared.prediction_log_partitions import (
    DEFAULT_PARTITION,
    day_bounds,
    days_ahead,
    ensure_partitions,
    existing_partitions,
    is_partitioned,
)
from shared.storage import ObjectNotFound, ObjectStore

FEATURE_PREFIX = "feature."


def export_key(day: date) -> str:
    return f"predictions/log/date={day:%Y-%m-%d}/part-0.parquet"


@dataclass
class CompactionReport:
    exported_rows: dict[date, int] = field(default_factory=dict)  # rows newly written to a day's file
    removed_days: list[date] = field(default_factory=list)
    created_partitions: list[date] = field(default_factory=list)


def days_before(connection: Connection, today: date) -> list[date]:
    """The days before `today` that have logged rows."""
    start, _ = day_bounds(today)
    if is_partitioned(connection):
        query = "SELECT DISTINCT (served_at AT TIME ZONE 'UTC')::date FROM prediction_log WHERE served_at < :start"
        return sorted(connection.scalars(text(query), {"start": start}))
    # SQLite holds served_at as UTC text, 'YYYY-MM-DD HH:MM:SS...'
    query = "SELECT DISTINCT substr(served_at, 1, 10) FROM prediction_log WHERE served_at < :start"
    return sorted(
        date.fromisoformat(day) for day in connection.scalars(text(query), {"start": start.replace(tzinfo=None)})
    )


def _day_frame(connection: Connection, day: date) -> pd.DataFrame:
    start, end = day_bounds(day)
    columns = [column for column in PredictionLog.__table__.columns if column.name != "features"]
    query = (
        select(*columns, PredictionLog.features)
        .where(PredictionLog.served_at >= start, PredictionLog.served_at < end)
        .order_by(PredictionLog.id)
    )
    rows = connection.execute(query).all()
    frame = pd.DataFrame([row[:-1] for row in rows], columns=[column.name for column in columns])
    features = pd.DataFrame.from_records([row[-1] for row in rows]).add_prefix(FEATURE_PREFIX)
    return pd.concat([frame, features], axis=1)


def _exported(store: ObjectStore, day: date) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(io.BytesIO(store.get_bytes(export_key(day))))
    except ObjectNotFound:
        return None


def export_day(connection: Connection, store: ObjectStore, day: date) -> int:
    """Merge the day's stored rows into its file; returns the rows the file did not hold yet."""
    stored, exported = _day_frame(connection, day), _exported(store, day)
    new = stored if exported is None else stored[~stored["id"].isin(exported["id"])]
    if new.empty:
        return 0
    merged = new if exported is None else pd.concat([exported, new], ignore_index=True).sort_values("id")
    buffer = io.BytesIO()
    merged.to_parquet(buffer, index=False)
    store.put_bytes(export_key(day), buffer.getvalue(), "application/vnd.apache.parquet")
    return len(new)


def remove_day(connection: Connection, day: date) -> None:
    start, end = day_bounds(day)
    if is_partitioned(connection):
        partition = existing_partitions(connection).get(day)
        if partition is not None:
            connection.execute(text(f"DROP TABLE {partition}"))
        connection.execute(
            text(f"DELETE FROM {DEFAULT_PARTITION} WHERE served_at >= :start AND served_at < :end"),
            {"start": start, "end": end},
        )
    else:
        connection.execute(delete(PredictionLog).where(PredictionLog.served_at >= start, PredictionLog.served_at < end))


def compact(engine: Engine, store: ObjectStore, today: date, retention_days: int) -> CompactionReport:
    """Export every settled day, then remove the days older than the retention (each day one transaction)."""
    report = CompactionReport()
    oldest_kept = today - timedelta(days=retention_days)
    with engine.begin() as connection:
        report.created_partitions = ensure_partitions(connection, days_ahead(today))
        days = days_before(connection, today)
        if is_partitioned(connection):  # empty partitions of old days go too
            days = sorted(set(days) | {day for day in existing_partitions(connection) if day < oldest_kept})
    for day in days:
        with engine.begin() as connection:
            exported = export_day(connection, store, day)
            if exported:
                report.exported_rows[day] = exported
            if day < oldest_kept:
                remove_day(connection, day)
                report.removed_days.append(day)
    return report
