"""Upcoming matches with the latest batch scoring's probabilities, filtered by league and kick-off dates.

The batch is one parquet file behind `predictions/batch/latest.json`; it is read again only when the
pointer moves, and the pointer is looked at no more often than every `refresh_s`.
"""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from shared.errors import InvalidInput
from shared.serving.batch_lookup import LATEST_POINTER, BatchUnavailable
from shared.serving.schemas import ModelRef, Probabilities
from shared.storage import ObjectNotFound, ObjectStore

COLUMNS = [
    "match_id",
    "league",
    "season",
    "kickoff_utc",
    "home_team",
    "away_team",
    "p_home",
    "p_draw",
    "p_away",
    "model_name",
    "model_version",
]
MAX_LIMIT = 2000


class Fixture(BaseModel):
    match_id: int
    league: str = Field(examples=["E0"])
    season: str
    kickoff: datetime
    home_team: str
    away_team: str
    probabilities: Probabilities
    model: ModelRef


class FixturesResponse(BaseModel):
    batch_key: str = Field(description="the batch-scoring file these predictions come from")
    league: str | None
    date_from: date | None
    date_to: date | None
    total: int = Field(description="matches the filters select; `fixtures` holds the first `limit` by kick-off")
    fixtures: list[Fixture]


class LatestBatch:
    """The latest batch as an Arrow table sorted by kick-off, reloaded when the pointer moves."""

    def __init__(self, store: ObjectStore, refresh_s: float = 30.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._key: str | None = None
        self._table: pa.Table | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> tuple[str, pa.Table]:
        with self._lock:
            if self._table is None or time.monotonic() - self._checked_at >= self._refresh_s:
                self._reload()
            assert self._key is not None and self._table is not None
            return self._key, self._table

    def _reload(self) -> None:
        try:
            key = json.loads(self._store.get_bytes(LATEST_POINTER))["key"]
        except ObjectNotFound:
            raise BatchUnavailable("no batch predictions yet: run `t2b score`") from None
        if key != self._key:
            table = pq.read_table(io.BytesIO(self._store.get_bytes(key)), columns=COLUMNS)
            self._table = table.sort_by([("kickoff_utc", "ascending"), ("match_id", "ascending")])
            self._key = key
        self._checked_at = time.monotonic()


def fixtures(
    batch: LatestBatch, league: str | None, date_from: date | None, date_to: date | None, limit: int
) -> FixturesResponse:
    """Batch predictions of `league` kicking off on `date_from` .. `date_to` (UTC days, both included)."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidInput(f"date_from {date_from} is after date_to {date_to}")
    key, table = batch.current()
    kickoff = table["kickoff_utc"]
    keep = pc.equal(table["league"], league) if league is not None else None
    if date_from is not None:
        keep = _and(keep, pc.greater_equal(kickoff, _utc_midnight(date_from, kickoff.type)))
    if date_to is not None:
        keep = _and(keep, pc.less(kickoff, _utc_midnight(date_to + timedelta(days=1), kickoff.type)))
    selected = table.filter(keep) if keep is not None else table
    rows = selected.slice(0, limit).to_pylist()
    return FixturesResponse(
        batch_key=key,
        league=league,
        date_from=date_from,
        date_to=date_to,
        total=selected.num_rows,
        fixtures=[_fixture(row) for row in rows],
    )


def _and(left: pa.ChunkedArray | None, right: pa.ChunkedArray) -> pa.ChunkedArray:
    return right if left is None else pc.and_(left, right)


def _utc_midnight(day: date, kickoff_type: pa.DataType) -> pa.Scalar:
    """Midnight UTC of `day`, typed like the kick-off column (tz-aware or naive UTC) so Arrow compares them."""
    aware = getattr(kickoff_type, "tz", None) is not None
    return pa.scalar(datetime(day.year, day.month, day.day, tzinfo=UTC if aware else None), type=kickoff_type)


def _fixture(row: dict) -> Fixture:
    return Fixture(
        match_id=row["match_id"],
        league=row["league"],
        season=row["season"],
        kickoff=row["kickoff_utc"],
        home_team=row["home_team"],
        away_team=row["away_team"],
        probabilities=Probabilities(home=row["p_home"], draw=row["p_draw"], away=row["p_away"]),
        model=ModelRef(name=row["model_name"], version=str(row["model_version"])),
    )
