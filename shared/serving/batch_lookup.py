"""Precomputed predictions: the latest batch-scoring parquet, indexed by match id in process."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import datetime

import pyarrow.parquet as pq
from pydantic import BaseModel

from shared.errors import NotFound, Unavailable
from shared.serving.schemas import ModelRef, Probabilities
from shared.storage import ObjectNotFound, ObjectStore

LATEST_POINTER = "predictions/batch/latest.json"
BATCH_RETRY_AFTER_SECONDS = 60  # scoring runs hourly on match days; a minute is a fair first wait


class BatchPrediction(BaseModel):
    match_id: int
    home_team: str
    away_team: str
    kickoff: datetime
    probabilities: Probabilities
    model: ModelRef
    features_as_of: datetime | None
    inputs_fetched_at: datetime | None = None  # the match's newest live state or preview read (match day)
    batch_key: str


class NotInBatch(NotFound):
    """The match is not in the latest batch (not scheduled when it was scored): 404."""


class BatchUnavailable(Unavailable):
    """No batch has been scored yet, or its file cannot be read: 503, try again after the next scoring."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after_seconds=BATCH_RETRY_AFTER_SECONDS)


class BatchPredictions:
    """Re-reads the pointer every `refresh_s`; loads a batch file only when the pointer moved.

    A move is a new key or a new write time: a batch re-scored on match-day news the same day rewrites
    that day's key, and only `written_at` tells the reader its rows changed."""

    def __init__(self, store: ObjectStore, refresh_s: float = 30.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._key: str | None = None
        self._written_at: str | None = None
        self._rows: dict[int, BatchPrediction] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        try:
            pointer = json.loads(self._store.get_bytes(LATEST_POINTER))
        except ObjectNotFound:
            raise BatchUnavailable("no batch predictions yet: run `t2b score`") from None
        key, written_at = pointer["key"], pointer.get("written_at")
        if (key, written_at) != (self._key, self._written_at):
            table = pq.read_table(io.BytesIO(self._store.get_bytes(key)))
            self._rows = {row["match_id"]: _prediction(row, key) for row in table.to_pylist()}
            self._key, self._written_at = key, written_at
        self._checked_at = time.monotonic()

    def get(self, match_id: int) -> BatchPrediction:
        if time.monotonic() - self._checked_at >= self._refresh_s:
            with self._lock:
                if time.monotonic() - self._checked_at >= self._refresh_s:
                    self._refresh()
        try:
            return self._rows[match_id]
        except KeyError:
            raise NotInBatch(
                f"match {match_id} is not in the latest batch ({self._key}); batch scoring covers scheduled "
                "matches only — use POST /predict for others"
            ) from None


def _prediction(row: dict, key: str) -> BatchPrediction:
    return BatchPrediction(
        match_id=row["match_id"],
        home_team=row["home_team"],
        away_team=row["away_team"],
        kickoff=row["kickoff_utc"],
        probabilities=Probabilities(home=row["p_home"], draw=row["p_draw"], away=row["p_away"]),
        model=ModelRef(name=row["model_name"], version=str(row["model_version"])),
        features_as_of=row.get("features_as_of"),
        inputs_fetched_at=row.get("inputs_fetched_at"),
        batch_key=key,
    )
