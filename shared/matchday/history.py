"""The match-day history as parquet in object storage, partitioned by the day it was read (UTC):

    matchday/live/date=2026-12-05/part-0.parquet       every distinct live state read that day
    matchday/previews/date=2026-12-05/part-0.parquet   every preview version first read that day

A day's partition is rewritten whole (atomic, like the raw export) whenever a tick stored something
for that day; `t2b matchday export` rewrites any range. Line-ups and missing players are nested lists
(pyarrow reads them as lists of structs; pandas as lists of dicts).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from shared.db.match_join import MatchJoin
from shared.db.models import (
    Competition,
    Match,
    MatchLive,
    MatchLiveSnapshot,
    MatchPreviewFetch,
    MatchSourceId,
    Season,
)
from shared.scraping.store import SOURCE
from shared.storage import ObjectStore

PREFIX = "matchday"
TIMESTAMP = pa.timestamp("us", tz="UTC")
_MATCH_FIELDS = [
    ("match_id", pa.int64()),
    ("whoscored_id", pa.int64()),
    ("league", pa.string()),
    ("season", pa.string()),
    ("kickoff_utc", TIMESTAMP),
    ("home_team", pa.string()),
    ("away_team", pa.string()),
]
LIVE_SCHEMA = pa.schema(
    [
        *_MATCH_FIELDS,
        ("fetched_at", TIMESTAMP),
        ("status", pa.string()),
        ("minute", pa.string()),
        ("home_goals", pa.int32()),
        ("away_goals", pa.int32()),
        ("home_red_cards", pa.int32()),
        ("away_red_cards", pa.int32()),
        ("event_count", pa.int32()),
        ("change", pa.string()),
    ]
)
_PLAYER = pa.struct([("player_id", pa.int64()), ("name", pa.string()), ("position", pa.string())])
_MISSING = pa.struct(
    [
        ("player_id", pa.int64()),
        ("name", pa.string()),
        ("reason", pa.string()),
        ("status", pa.string()),
        ("rating", pa.float64()),
    ]
)
PREVIEW_SCHEMA = pa.schema(
    [
        *_MATCH_FIELDS,
        ("first_fetched_at", TIMESTAMP),
        ("last_fetched_at", TIMESTAMP),
        ("fetch_count", pa.int32()),
        ("home_formation", pa.string()),
        ("away_formation", pa.string()),
        ("home_lineup", pa.list_(_PLAYER)),
        ("away_lineup", pa.list_(_PLAYER)),
        ("home_missing", pa.list_(_MISSING)),
        ("away_missing", pa.list_(_MISSING)),
        ("change", pa.string()),
    ]
)
DATASETS = {"live": LIVE_SCHEMA, "previews": PREVIEW_SCHEMA}


def partition_key(dataset: str, day: date) -> str:
    return f"{PREFIX}/{dataset}/date={day.isoformat()}/part-0.parquet"


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _match_columns(teams: MatchJoin) -> tuple:
    return (
        Match.id,
        MatchSourceId.source_id,
        Competition.code,
        Season.name,
        Match.kickoff_utc,
        teams.home.name,
        teams.away.name,
    )


def _match_values(row) -> list:  # type: ignore[no-untyped-def]
    return [row[0], int(row[1]) if row[1] is not None else None, *row[2:7]]


def live_rows(engine: Engine, day: date) -> list[dict]:
    start, end = _day_bounds(day)
    teams = MatchJoin()
    query = (
        teams.select(
            *_match_columns(teams),
            MatchLiveSnapshot.fetched_at,
            MatchLiveSnapshot.status,
            MatchLiveSnapshot.minute,
            MatchLiveSnapshot.home_goals,
            MatchLiveSnapshot.away_goals,
            MatchLiveSnapshot.home_red_cards,
            MatchLiveSnapshot.away_red_cards,
            MatchLiveSnapshot.event_count,
            MatchLiveSnapshot.change,
        )
        .join(MatchLiveSnapshot, MatchLiveSnapshot.match_id == Match.id)
        .outerjoin(MatchSourceId, (MatchSourceId.match_id == Match.id) & (MatchSourceId.source == SOURCE))
        .where(MatchLiveSnapshot.fetched_at >= start, MatchLiveSnapshot.fetched_at < end)
        .order_by(MatchLiveSnapshot.fetched_at, MatchLiveSnapshot.id)
    )
    names = LIVE_SCHEMA.names
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [dict(zip(names, [*_match_values(row), row[7], row[8].value, *row[9:]], strict=True)) for row in rows]


def preview_rows(engine: Engine, day: date) -> list[dict]:
    start, end = _day_bounds(day)
    teams = MatchJoin()
    query = (
        teams.select(*_match_columns(teams), MatchPreviewFetch)
        .join(MatchPreviewFetch, MatchPreviewFetch.match_id == Match.id)
        .outerjoin(MatchSourceId, (MatchSourceId.match_id == Match.id) & (MatchSourceId.source == SOURCE))
        .where(MatchPreviewFetch.first_fetched_at >= start, MatchPreviewFetch.first_fetched_at < end)
        .order_by(MatchPreviewFetch.first_fetched_at, MatchPreviewFetch.id)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
    result = []
    for row in rows:
        version: MatchPreviewFetch = row[7]
        values = dict(zip(PREVIEW_SCHEMA.names[:7], _match_values(row), strict=True))
        result.append(
            values
            | {
                "first_fetched_at": version.first_fetched_at,
                "last_fetched_at": version.last_fetched_at,
                "fetch_count": version.fetch_count,
                "home_formation": version.home_formation,
                "away_formation": version.away_formation,
                "home_lineup": version.lineups.get("home", []),
                "away_lineup": version.lineups.get("away", []),
                "home_missing": version.missing.get("home", []),
                "away_missing": version.missing.get("away", []),
                "change": version.change,
            }
        )
    return result


def _parquet(rows: list[dict], schema: pa.Schema) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buffer, compression="zstd")
    return buffer.getvalue()


def export_days(engine: Engine, store: ObjectStore, days: Iterable[date]) -> list[str]:
    """Rewrite both datasets' partitions of each day that has rows; the keys written."""
    written = []
    for day in sorted(set(days)):
        for dataset, rows in (("live", live_rows(engine, day)), ("previews", preview_rows(engine, day))):
            if rows:
                key = partition_key(dataset, day)
                store.put_bytes(key, _parquet(rows, DATASETS[dataset]), content_type="application/vnd.apache.parquet")
                written.append(key)
    return written


def read_history(store: ObjectStore, dataset: str, since: date | None = None) -> pa.Table:
    """Every partition of `live` or `previews` (from `since` on), concatenated."""
    schema = DATASETS[dataset]
    tables = [
        pq.read_table(io.BytesIO(store.get_bytes(key)), schema=schema)
        for key in sorted(store.list_keys(f"{PREFIX}/{dataset}/"))
        if key.endswith(".parquet") and (since is None or key.split("date=")[1][:10] >= since.isoformat())
    ]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def latest_input_fetches(engine: Engine) -> dict[int, datetime]:
    """Per match, the last time the tick read its live state or preview: when its newest inputs were fetched."""
    live = select(MatchLive.match_id, MatchLive.fetched_at)
    previews = select(MatchPreviewFetch.match_id, func.max(MatchPreviewFetch.last_fetched_at)).group_by(
        MatchPreviewFetch.match_id
    )
    latest: dict[int, datetime] = {}
    with engine.connect() as connection:
        for match_id, fetched_at in [*connection.execute(live), *connection.execute(previews)]:
            if match_id not in latest or fetched_at > latest[match_id]:
                latest[match_id] = fetched_at
    return latest
