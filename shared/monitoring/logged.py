"""The prediction log of a time window as one frame: features and probabilities, one row per prediction.

Read columnar, never as ORM rows: the store's rows come from one query with the features as their raw
bytes, and each schema version's vectors are decoded together (one numpy view over the joined bytes,
shared/db/feature_vector.py's layout) instead of one dict per row. Days that `t2b predictions compact`
exported are read from their parquet files too, so a window reaches back past the store's retention;
a row both in the store and in a file (a settled day not yet past the retention) counts once, by id.
Missing feature values are NaN.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine, LargeBinary, select, type_coerce

from shared.db.feature_vector import FEATURE_SCHEMAS, JSON_VERSION, decode
from shared.db.models import PredictionLog
from shared.prediction_log_maintenance import FEATURE_PREFIX, export_key
from shared.storage import ObjectNotFound, ObjectStore

PROBABILITIES = ("p_home", "p_draw", "p_away")
KEYS = ("id", "served_at")


class NoPredictions(LookupError):
    """The prediction log holds nothing in the window asked for."""


def feature_frame(vectors: Sequence[bytes]) -> pd.DataFrame:
    """Stored feature vectors -> one float column per feature, rows in the order given."""
    versions = np.fromiter((vector[0] for vector in vectors), dtype=np.uint8, count=len(vectors))
    parts = []
    for version in np.unique(versions).tolist():
        rows = np.flatnonzero(versions == version)
        if version == JSON_VERSION:  # names no registered schema knows: rare, decoded one by one
            parts.append(pd.DataFrame.from_records([decode(vectors[i]) for i in rows], index=rows).astype(float))
            continue
        if version not in FEATURE_SCHEMAS:
            raise ValueError(f"prediction log features of unknown schema version {version}")
        names = FEATURE_SCHEMAS[version]
        layout = np.dtype([("version", np.uint8), ("values", "<f8", (len(names),))])
        if any(len(vectors[i]) != layout.itemsize for i in rows):
            raise ValueError(f"a prediction log feature vector of version {version} is not {layout.itemsize} bytes")
        values = np.frombuffer(b"".join(vectors[i] for i in rows), dtype=layout)["values"]
        parts.append(pd.DataFrame(values, columns=list(names), index=rows))
    return pd.concat(parts).sort_index() if len(parts) > 1 else parts[0]


def stored_rows(engine: Engine, since: datetime, until: datetime) -> pd.DataFrame:
    """The store's rows served in [since, until): one query, features as raw bytes decoded together."""
    query = select(
        *(getattr(PredictionLog, name) for name in KEYS + PROBABILITIES),
        type_coerce(PredictionLog.features, LargeBinary),  # skips the per-row dict decoding
    ).where(PredictionLog.served_at >= since, PredictionLog.served_at < until)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return pd.DataFrame()
    columns = list(zip(*rows, strict=True))
    frame = pd.DataFrame(dict(zip(KEYS + PROBABILITIES, columns[:-1], strict=True)))
    frame["served_at"] = pd.to_datetime(frame["served_at"], utc=True)
    return pd.concat([frame, feature_frame([bytes(vector) for vector in columns[-1]])], axis=1)


def exported_rows(store: ObjectStore, since: datetime, until: datetime) -> pd.DataFrame:
    """Rows served in [since, until) from the parquet files of the days `t2b predictions compact` exported."""
    frames = []
    day, last = since.date(), (until - timedelta(microseconds=1)).date()
    while day <= last:
        try:
            data = store.get_bytes(export_key(day))
        except ObjectNotFound:
            data = None
        if data is not None:
            frame = pd.read_parquet(io.BytesIO(data))
            served = pd.to_datetime(frame["served_at"], utc=True)
            frame = frame[(served >= since) & (served < until)]
            features = [column for column in frame.columns if column.startswith(FEATURE_PREFIX)]
            frame = frame[[*KEYS, *PROBABILITIES, *features]].rename(columns=lambda c: c.removeprefix(FEATURE_PREFIX))
            frames.append(frame.assign(served_at=served[frame.index]))
        day += timedelta(days=1)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def logged_predictions(engine: Engine, store: ObjectStore, since: datetime, until: datetime) -> pd.DataFrame:
    """Features and probabilities served in [since, until) by time, from the store and the exported days."""
    parts = [part for part in (stored_rows(engine, since, until), exported_rows(store, since, until)) if len(part)]
    if not parts:
        raise NoPredictions(f"no logged predictions served from {since.isoformat()} to {until.isoformat()}")
    frame = pd.concat(parts, ignore_index=True).drop_duplicates("id")
    return frame.sort_values(["served_at", "id"], ignore_index=True).drop(columns=list(KEYS)).astype(float)
