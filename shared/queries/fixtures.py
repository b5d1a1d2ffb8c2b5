"""Upcoming matches with the latest batch scoring's probabilities, filtered by league and kick-off dates.

The batch's served rows (shared.serving.batch_lookup.BatchPointer) are read again only when the
pointer moves, and the pointer is looked at no more often than every `refresh_s`. They are kept sorted
by kick-off, and a request's dates are found by bisection: a few thousand rows need no dataframe.
"""

from __future__ import annotations

import bisect
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import InvalidInput
from shared.serving.batch_lookup import BatchPointer
from shared.serving.schemas import ModelRef, Probabilities
from shared.storage import ObjectStore

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
    """The latest batch's rows sorted by kick-off (then match id), reloaded when the pointer moves."""

    def __init__(self, store: ObjectStore, refresh_s: float = 30.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._pointer: BatchPointer | None = None
        self._rows: list[dict[str, Any]] = []
        self._kickoffs: list[datetime] = []  # the rows' kick-offs in UTC, for bisection
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> tuple[str, list[dict[str, Any]], list[datetime]]:
        with self._lock:
            if self._pointer is None or time.monotonic() - self._checked_at >= self._refresh_s:
                self._reload()
            assert self._pointer is not None
            return self._pointer.key, self._rows, self._kickoffs

    def _reload(self) -> None:
        pointer = BatchPointer.read(self._store)
        if pointer != self._pointer:  # a new batch, or the same day's re-scored on match-day news
            rows = pointer.rows(self._store)
            rows.sort(key=lambda row: (_utc(row["kickoff_utc"]), row["match_id"]))
            self._rows, self._kickoffs = rows, [_utc(row["kickoff_utc"]) for row in rows]
            self._pointer = pointer
        self._checked_at = time.monotonic()


def fixtures(
    batch: LatestBatch, league: str | None, date_from: date | None, date_to: date | None, limit: int
) -> FixturesResponse:
    """Batch predictions of `league` kicking off on `date_from` .. `date_to` (UTC days, both included)."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise InvalidInput(f"date_from {date_from} is after date_to {date_to}")
    key, rows, kickoffs = batch.current()
    first = bisect.bisect_left(kickoffs, _utc_midnight(date_from)) if date_from is not None else 0
    end = bisect.bisect_left(kickoffs, _utc_midnight(date_to + timedelta(days=1))) if date_to is not None else len(rows)
    selected = [row for row in rows[first:end] if league is None or row["league"] == league]
    return FixturesResponse(
        batch_key=key,
        league=league,
        date_from=date_from,
        date_to=date_to,
        total=len(selected),
        fixtures=[_fixture(row) for row in selected[:limit]],
    )


def _utc(moment: datetime) -> datetime:
    """A kick-off as an aware UTC datetime: the column is tz-aware UTC, or naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


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
