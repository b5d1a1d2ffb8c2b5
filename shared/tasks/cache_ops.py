"""Cache maintenance on events: drop caches whose inputs changed, keep async prediction results.

Redis is a cache that degrades (shared/cache.py): when it is away a drop does nothing and there is
nothing stale to drop either, so these events never fail for want of Redis.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.cache import Cache
from shared.events.contract import (
    CACHE_INVALIDATE,
    MATCH_UPDATED,
    MATCHES_INGESTED,
    PREDICTION_COMPLETED,
    CacheInvalidate,
    Envelope,
    EventData,
    InvalidEvent,
    MatchesIngested,
    MatchUpdated,
    PredictionCompleted,
)

if TYPE_CHECKING:
    from shared.services import Services

log = logging.getLogger("time2bet.tasks.cache_ops")

TEAM_STATE = "team_state"  # the latest team-state snapshot the online features start from
PREDICTION_RESULT = "prediction_result"  # async results by job id, read back by the requester

# CacheInvalidate.scope → the caches it names. Results of async predictions are never invalidated:
# they are answers a client still has to collect, not derived data. A league-scoped invalidation
# drops the whole cache: keys do not carry the league, and dropping too much only costs recomputation.
# Answers of POST /predict are in no shared cache (shared/serving/prediction_cache.py): keyed by model
# version and features, they cannot go stale, so promotions and previews leave cache-ops nothing to do.
SCOPES: dict[str, tuple[str, ...]] = {
    "team_state": (TEAM_STATE,),
    "livescores": ("livescores",),
    "stats": ("stats",),
    "all": (TEAM_STATE, "livescores", "stats"),
}

EVENT_TYPES = (CACHE_INVALIDATE, MATCHES_INGESTED, PREDICTION_COMPLETED, MATCH_UPDATED)


def drop(cache: Cache, names: tuple[str, ...]) -> int:
    dropped = sum(cache.delete_prefix(name) for name in names)
    log.info("dropped %d keys of caches %s", dropped, ", ".join(names))
    return dropped


def result_key(job_id: str) -> str:
    """Where an async prediction's result is kept: `<REDIS_KEY_PREFIX>prediction_result:<job id>`."""
    return job_id


def match_news_caches(data: MatchUpdated) -> tuple[str, ...]:
    """The caches that may answer for a match with older inputs than the event's: its live score, and
    on a final result the team state every later prediction starts from."""
    if data.status == "finished":
        return (TEAM_STATE, "livescores")
    return ("livescores",)


def handle_cache_event(envelope: Envelope[EventData], services: Services) -> str:
    data, cache = envelope.data, services.cache
    if isinstance(data, CacheInvalidate):
        drop(cache, SCOPES[data.scope])
        return "invalidated"
    if isinstance(data, MatchesIngested):  # new results change the team state features start from
        drop(cache, (TEAM_STATE,))
        return "invalidated"
    if isinstance(data, MatchUpdated):
        drop(cache, match_news_caches(data))
        return "invalidated"
    if isinstance(data, PredictionCompleted):
        if not cache.enabled:
            return "skipped"
        cache.set_json(
            PREDICTION_RESULT,
            result_key(data.job_id),
            data.model_dump(mode="json"),
            services.settings.prediction_cache_ttl_seconds,
        )
        return "stored"
    raise InvalidEvent(f"cache-ops does not handle {envelope.type} (it handles {', '.join(EVENT_TYPES)})")
