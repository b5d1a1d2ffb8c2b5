"""Precomputed predictions: the latest batch scoring, indexed by match id in process.

A batch is a parquet file (every column, features included: for analysis and drift) and, beside it, the
columns the lookups serve as JSON rows (`rows_key` in the pointer). The lookup functions read the JSON:
a parquet reader (pyarrow and the numpy it loads, ~45 MB resident) is more than a few thousand rows of
a dozen columns need. A batch written before the JSON rows existed is read from its parquet.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.errors import NotFound, Unavailable
from shared.serving.schemas import ModelRef, Probabilities
from shared.storage import ObjectNotFound, ObjectStore

LATEST_POINTER = "predictions/batch/latest.json"
BATCH_RETRY_AFTER_SECONDS = 60  # scoring runs hourly on match days; a minute is a fair first wait
# what the lookups serve, and so what the JSON rows carry; the timestamps as ISO 8601 (None: unknown)
SERVED_COLUMNS = [
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
    "features_as_of",
    "inputs_fetched_at",
]
SERVED_TIMESTAMPS = ("kickoff_utc", "features_as_of", "inputs_fetched_at")


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


def served_rows_key(key: str) -> str:
    """Where the JSON rows of the batch at `key` (a .parquet) are written."""
    return key.removesuffix(".parquet") + ".rows.json"


@dataclass(frozen=True)
class BatchPointer:
    """`predictions/batch/latest.json`: the batch's key, when it was written (a same-day re-score keeps
    the key), and its JSON rows' key (absent for batches written before them)."""

    key: str
    written_at: str | None
    rows_key: str | None

    @classmethod
    def read(cls, store: ObjectStore) -> BatchPointer:
        try:
            pointer = json.loads(store.get_bytes(LATEST_POINTER))
        except ObjectNotFound:
            raise BatchUnavailable("no batch predictions yet: run `t2b score`") from None
        return cls(pointer["key"], pointer.get("written_at"), pointer.get("rows_key"))

    def rows(self, store: ObjectStore) -> list[dict[str, Any]]:
        """The served columns of every row, timestamps as datetimes."""
        if self.rows_key is None:
            return read_batch(store.get_bytes(self.key), SERVED_COLUMNS)
        rows = json.loads(store.get_bytes(self.rows_key))
        for row in rows:
            for column in SERVED_TIMESTAMPS:
                if row[column] is not None:
                    row[column] = datetime.fromisoformat(row[column])
        return rows


class BatchPredictions:
    """Re-reads the pointer every `refresh_s`; loads a batch file only when the pointer moved.

    A move is a new key or a new write time: a batch re-scored on match-day news the same day rewrites
    that day's key, and only `written_at` tells the reader its rows changed."""

    def __init__(self, store: ObjectStore, refresh_s: float = 30.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._pointer: BatchPointer | None = None
        self._rows: dict[int, BatchPrediction] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        pointer = BatchPointer.read(self._store)
        if pointer != self._pointer:
            self._rows = {row["match_id"]: _prediction(row, pointer.key) for row in pointer.rows(self._store)}
            self._pointer = pointer
        self._checked_at = time.monotonic()

    def get(self, match_id: int) -> BatchPrediction:
        if time.monotonic() - self._checked_at >= self._refresh_s:
            with self._lock:
                if time.monotonic() - self._checked_at >= self._refresh_s:
                    self._refresh()
        try:
            return self._rows[match_id]
        except KeyError:
            assert self._pointer is not None  # a refresh found one, or raised
            raise NotInBatch(
                f"match {match_id} is not in the latest batch ({self._pointer.key}); batch scoring covers scheduled "
                "matches only — use POST /predict for others"
            ) from None


def read_batch(data: bytes, columns: list[str]) -> list[dict[str, Any]]:
    """The rows of a batch-scoring parquet (`columns` of it) as Python values: only for batches written
    before their JSON rows, so Arrow's own conversion (which loads pandas for tz-aware timestamps) is
    paid until the next scoring at most."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = pq.ParquetFile(pa.BufferReader(data))
    # a batch older than a column (inputs_fetched_at came with match day) is read without it
    return batch.read(columns=[column for column in columns if column in batch.schema_arrow.names]).to_pylist()


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
