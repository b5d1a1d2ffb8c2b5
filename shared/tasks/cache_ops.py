"""Cache maintenance on events: drop caches whose inputs changed, keep async prediction results.

Redis is a cache that degrades (shared/cache.py): when it is away a drop does nothing and there is
nothing stale to drop either, so these events never fail for want of Redis.
"""

from __future__ import annotations

import logging

from shared.cache import get_cache
from shared.config import get_settings
from shared.events.contract import (
    CacheInvalidate,
    Envelope,
    EventData,
    InvalidEvent,
    MatchesIngested,
    ModelPromoted,
    PredictionCompleted,
)

log = logging.getLogger("time2bet.tasks.cache_ops")

PREDICTION = "prediction"  # probabilities by model version + features (shared/serving/predict.py)
TEAM_STATE = "team_state"  # the latest team-state snapshot the online features start from
PREDICTION_RESULT = "prediction_result"  # async results by job id, read back by the requester

# CacheInvalidate.scope → the caches it names. Results of async predictions are never invalidated:
# they are answers a client still has to collect, not derived data. A league-scoped invalidation
# drops the whole cache: keys do not carry the league, and dropping too much only costs recomputation.
SCOPES: dict[str, tuple[str, ...]] = {
    "predictions": (PREDICTION,),
    "team_state": (TEAM_STATE,),
    "livescores": ("livescores",),
    "stats": ("stats",),
    "all": (PREDICTION, TEAM_STATE, "livescores", "stats"),
}

CACHE_INVALIDATE = "io.time2bet.cache.invalidate"
MATCHES_INGESTED = "io.time2bet.matches.ingested"
MODEL_PROMOTED = "io.time2bet.model.promoted"
PREDICTION_COMPLETED = "io.time2bet.prediction.completed"
EVENT_TYPES = (CACHE_INVALIDATE, MATCHES_INGESTED, MODEL_PROMOTED, PREDICTION_COMPLETED)


def drop(names: tuple[str, ...]) -> int:
    cache = get_cache()
    dropped = sum(cache.delete_prefix(name) for name in names)
    log.info("dropped %d keys of caches %s", dropped, ", ".join(names))
    return dropped


def result_key(job_id: str) -> str:
    """Where an async prediction's result is kept: `<REDIS_KEY_PREFIX>prediction_result:<job id>`."""
    return job_id


def handle_cache_event(envelope: Envelope[EventData]) -> str:
    data = envelope.data
    if isinstance(data, CacheInvalidate):
        drop(SCOPES[data.scope])
        return "invalidated"
    if isinstance(data, MatchesIngested):  # new results change features and so every prediction
        drop((PREDICTION, TEAM_STATE))
        return "invalidated"
    if isinstance(data, ModelPromoted):  # keys carry the model version: the old champion's are dead
        drop((PREDICTION,))
        return "invalidated"
    if isinstance(data, PredictionCompleted):
        cache = get_cache()
        if not cache.enabled:
            return "skipped"
        cache.set_json(
            PREDICTION_RESULT,
            result_key(data.job_id),
            data.model_dump(mode="json"),
            get_settings().prediction_cache_ttl_s,
        )
        return "stored"
    raise InvalidEvent(f"cache-ops does not handle {envelope.type} (it handles {', '.join(EVENT_TYPES)})")
