"""Cache warm-up after batch scoring (`t2b cache warm`, the last step of the batch-scoring workflow).

What a warm-up can do for the two read paths of a scheduled match:

- GET /predict/{match_id} (prediction-lookup) reads the batch itself: it follows
  predictions/batch/latest.json and reloads when the pointer moves (within MODEL_REFRESH_INTERVAL).
  No cache stands between it and the file, so the warm-up reads the newest batch through that same
  reader and fails the run when prediction-lookup could not serve it (pointer to a missing or
  unreadable file, no rows).
- POST /predict computes online features from the team state, which each replica reads through
  Redis. With REDIS_URL set, the warm-up writes the fresh team state there (the batch-features step
  just rebuilt it; without this Redis serves the old one until its TTL ends). Answers themselves are
  not warmed: each process keeps its own, and computing one costs less than a Redis round trip
  (shared/serving/prediction_cache.py).

No event is published: the contract's only cache event, io.time2bet.cache.invalidate, would make
cache-ops drop what was just written, and no serving process waits for a signal to re-read the batch.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from shared.cli.errors import CommandError, ExitCode, one_line
from shared.features.state import TEAM_STATE_KEY
from shared.serving.batch_lookup import LATEST_POINTER, BatchPredictions, NotInBatch
from shared.serving.online_features import TEAM_STATE
from shared.storage import ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from shared.services import Services


@dataclass(frozen=True)
class WarmUp:
    batch_key: str
    predictions: int  # rows of the batch, each readable as prediction-lookup serves it
    batch_model_version: str
    team_state_warmed: bool  # the fresh team state is in Redis (False without REDIS_URL)

    def summary(self) -> dict[str, object]:
        return asdict(self)


def newest_batch(store: ObjectStore) -> tuple[str, list[int], str]:
    """The batch prediction-lookup serves now: its key, match ids and model version, each row read
    through prediction-lookup's own reader. A batch it could not serve is a failed scoring (exit 1)."""
    try:
        key = json.loads(store.get_bytes(LATEST_POINTER))["key"]
        match_ids = pq.read_table(io.BytesIO(store.get_bytes(key)), columns=["match_id"]).column(0).to_pylist()
    except ObjectNotFound as exc:
        raise CommandError(f"no batch to serve: {exc} (run `t2b score`)") from None
    except (ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise CommandError(f"the newest batch is unreadable: {exc}") from None
    if not match_ids:
        raise CommandError(f"the newest batch {key} has no predictions")
    reader = BatchPredictions(store)
    try:
        versions = {reader.get(match_id).model.version for match_id in match_ids}
    except (NotInBatch, ValidationError) as exc:
        raise CommandError(f"prediction-lookup cannot serve {key}: {one_line(exc)}") from None
    if len(versions) != 1:
        raise CommandError(f"the newest batch {key} mixes model versions {sorted(versions)}")
    return key, match_ids, versions.pop()


def warm(services: Services) -> WarmUp:
    """Check the newest batch, then (with Redis) put the fresh team state where every replica reads it."""
    key, match_ids, batch_version = newest_batch(services.store)
    if not services.cache.enabled:
        return WarmUp(key, len(match_ids), batch_version, team_state_warmed=False)
    try:
        state = services.store.get_bytes(TEAM_STATE_KEY)
    except ObjectNotFound:
        raise CommandError(f"no team state at {TEAM_STATE_KEY}: run `t2b features build` first") from None
    services.cache.set_json(TEAM_STATE, "latest", state.decode(), services.settings.team_state_cache_ttl_seconds)
    if services.cache.get_json(TEAM_STATE, "latest") is None:
        raise CommandError("Redis did not keep the team state (unreachable?)", ExitCode.TEMPORARY)
    return WarmUp(key, len(match_ids), batch_version, team_state_warmed=True)
