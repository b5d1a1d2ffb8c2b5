"""Cache warm-up after batch scoring (`t2b cache warm`, the last step of the batch-scoring workflow).

What a warm-up can do for the two read paths of a scheduled match:

- GET /predict/{match_id} (prediction-lookup) reads the batch parquet itself: it follows
  predictions/batch/latest.json and reloads when the pointer moves (within MODEL_REFRESH_INTERVAL).
  No cache stands between it and the file, so the warm-up reads the newest batch through that same
  reader and fails the run when prediction-lookup could not serve it (pointer to a missing or
  unreadable file, no rows).
- POST /predict {"match_id": ...} (and the async path's infer) computes online features and looks
  the answer up in Redis by model version and feature fingerprint. With REDIS_URL set, the warm-up
  writes the fresh team state (the batch-features step just rebuilt it; without this Redis serves the
  old one until its TTL ends) and then each batch match's answer under exactly the key the data plane
  computes, so the first request for a scheduled match is a hit. A process's own memory tier cannot
  be reached from here: without Redis there is nothing to warm and only the batch is checked.

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
from shared.errors import InvalidInput, NotFound
from shared.features.state import TEAM_STATE_KEY
from shared.serving.batch_lookup import LATEST_POINTER, BatchPredictions, NotInBatch
from shared.serving.match_context import MatchContexts
from shared.serving.online_features import TEAM_STATE, OnlineFeatures
from shared.serving.prediction_cache import PredictionCache, cache_key
from shared.serving.schemas import PredictRequest
from shared.storage import ObjectNotFound, ObjectStore

if TYPE_CHECKING:
    from shared.services import Services


@dataclass(frozen=True)
class WarmUp:
    batch_key: str
    predictions: int  # rows of the batch, each readable as prediction-lookup serves it
    batch_model_version: str
    champion_version: str | None  # the version the warmed answers are of; None without Redis
    warmed: int  # POST /predict answers written to Redis
    skipped: int  # batch matches the data plane cannot answer (no longer stored, unknown teams)

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


def warm(services: Services, ttl_s: int) -> WarmUp:
    """Check the newest batch, then (with Redis) warm the team state and POST /predict's answers for it."""
    key, match_ids, batch_version = newest_batch(services.store)
    if not services.cache.enabled:
        return WarmUp(key, len(match_ids), batch_version, None, 0, 0)
    state_ttl_s = services.settings.team_state_cache_ttl_seconds
    try:
        state = services.store.get_bytes(TEAM_STATE_KEY)
    except ObjectNotFound:
        raise CommandError(f"no team state at {TEAM_STATE_KEY}: run `t2b features build` first") from None
    services.cache.set_json(TEAM_STATE, "latest", state.decode(), state_ttl_s)
    matches = MatchContexts(services.engine)
    features = OnlineFeatures(services.store, services.cache, state_ttl_s)
    answers = PredictionCache(services.cache, services.async_cache, memory_size=1, ttl_s=ttl_s)
    model = services.champion.current()
    written: list[str] = []
    for match_id in match_ids:
        try:
            _state, vector = features.of(matches.of(PredictRequest(match_id=match_id)))
        except (NotFound, InvalidInput):  # deleted since scoring, or teams without a state: serving says so too
            continue
        written.append(cache_key(model, vector))
        answers.store(written[-1], model.probabilities(vector))
    if written and answers.stored(written[-1]) is None:
        raise CommandError("Redis did not keep the warmed answers (unreachable?)", ExitCode.TEMPORARY)
    return WarmUp(key, len(match_ids), batch_version, model.version, len(written), len(match_ids) - len(written))
