"""Batch ML work on events: rebuild the features and team state, batch-score a day.

Both steps read the raw parquet export, so each first re-exports the store: these events follow new
matches being ingested, and a stale export would leave those matches out. The steps always cover
every exported league and season (the team state carries ratings across seasons and leagues, so a
partial rebuild would be wrong) and the batch is always the champion's, because that is what
prediction-lookup serves; the events' `leagues`, `seasons` and `model_version` only say what the
requester needs at least.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time

from shared.db.session import get_engine
from shared.events.contract import (
    CacheInvalidate,
    Envelope,
    EventData,
    FeaturesRequested,
    InvalidEvent,
    ScoringRequested,
    make_event,
)
from shared.events.publisher import BrokerUnavailable, get_publisher
from shared.export import export_store
from shared.ml.data import MLParams
from shared.ml.pipeline import features_step, score_step
from shared.storage import ObjectStore, get_store
from shared.tasks.handler import RetryLater

log = logging.getLogger("time2bet.tasks.batch")

FEATURES_REQUESTED = "io.time2bet.features.requested"
SCORING_REQUESTED = "io.time2bet.scoring.requested"
CACHE_INVALIDATE = "io.time2bet.cache.invalidate"
EVENT_SOURCE = "/time2bet/functions/batch-features"


def _fresh_export() -> ObjectStore:
    store = get_store()
    export_store(get_engine(), store)
    return store


def handle_features_event(envelope: Envelope[EventData]) -> str:
    data = envelope.data
    if not isinstance(data, FeaturesRequested):
        raise InvalidEvent(f"batch-features handles {FEATURES_REQUESTED} only, not {envelope.type}")
    if data.as_of is not None:
        # The materialised state is the one online predictions start from: a past state must never replace it.
        raise InvalidEvent("batch-features materialises the latest team state; as_of replays are not supported")
    features_step(_fresh_export(), MLParams.embedded(), log.info)
    # The contract has no scope naming the team-state cache alone; "all" includes it, and dropping
    # the other caches too only costs recomputation.
    invalidate = CacheInvalidate(scope="team_state", reason=f"team state rebuilt on event {envelope.id}")
    try:
        get_publisher().publish(make_event(CACHE_INVALIDATE, invalidate, source=EVENT_SOURCE))
    except BrokerUnavailable as error:  # rebuilding again on the retry is harmless; a stale cache is not
        raise RetryLater(f"batch-features: team state rebuilt but the cache not invalidated: {error}") from None
    return "rebuilt"


def scoring_moment(data: ScoringRequested) -> datetime:
    """The day's start (UTC): results public by then are known, every later kick-off is scored."""
    return datetime.combine(data.day, time.min, tzinfo=UTC)


def handle_scoring_event(envelope: Envelope[EventData]) -> str:
    data = envelope.data
    if not isinstance(data, ScoringRequested):
        raise InvalidEvent(f"batch-score handles {SCORING_REQUESTED} only, not {envelope.type}")
    score_step(_fresh_export(), MLParams.embedded(), scoring_moment(data), log.info)
    return "scored"
