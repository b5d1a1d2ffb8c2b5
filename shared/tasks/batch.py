"""Batch ML work on events: rebuild the features and team state, batch-score a day, re-score on
match-day news (match.updated, preview.updated) and on a new champion (model.promoted).

Both steps read the raw parquet export, so each first re-exports the store: these events follow new
matches being ingested, and a stale export would leave those matches out. The steps always cover
every exported league and season (the team state carries ratings across seasons and leagues, so a
partial rebuild would be wrong) and the batch is always the champion's, because that is what
prediction-lookup serves; the events' `leagues`, `seasons` and `model_version` only say what the
requester needs at least.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from shared.events.contract import (
    CACHE_INVALIDATE,
    FEATURES_REQUESTED,
    MATCH_UPDATED,
    MODEL_PROMOTED,
    PREVIEW_UPDATED,
    SCORING_REQUESTED,
    CacheInvalidate,
    Envelope,
    EventData,
    FeaturesRequested,
    InvalidEvent,
    MatchUpdated,
    ModelPromoted,
    PreviewUpdated,
    ScoringRequested,
    make_event,
)
from shared.events.publisher import BrokerUnavailable
from shared.export import export_store
from shared.matchday.history import latest_input_fetches
from shared.ml.data import MLParams
from shared.ml.pipeline import features_step, score_step
from shared.ml.registry import CHAMPION
from shared.serving.batch_lookup import LATEST_POINTER
from shared.storage import ObjectNotFound, ObjectStore
from shared.tasks.handler import RetryLater

if TYPE_CHECKING:
    from shared.services import Services

log = logging.getLogger("time2bet.tasks.batch")

EVENT_SOURCE = "/time2bet/functions/batch-features"


def _fresh_export(services: Services) -> ObjectStore:
    export_store(services.engine, services.store)
    return services.store


def handle_features_event(envelope: Envelope[EventData], services: Services) -> str:
    data = envelope.data
    if not isinstance(data, FeaturesRequested):
        raise InvalidEvent(f"batch-features handles {FEATURES_REQUESTED} only, not {envelope.type}")
    if data.as_of is not None:
        # The materialised state is the one online predictions start from: a past state must never replace it.
        raise InvalidEvent("batch-features materialises the latest team state; as_of replays are not supported")
    features_step(_fresh_export(services), MLParams.embedded(), log.info)
    # The contract has no scope naming the team-state cache alone; "all" includes it, and dropping
    # the other caches too only costs recomputation.
    invalidate = CacheInvalidate(scope="team_state", reason=f"team state rebuilt on event {envelope.id}")
    try:
        services.publisher.publish(make_event(CACHE_INVALIDATE, invalidate, source=EVENT_SOURCE))
    except BrokerUnavailable as error:  # rebuilding again on the retry is harmless; a stale cache is not
        raise RetryLater(f"batch-features: team state rebuilt but the cache not invalidated: {error}") from None
    return "rebuilt"


def scoring_moment(data: ScoringRequested) -> datetime:
    """The day's start (UTC): results public by then are known, every later kick-off is scored."""
    return datetime.combine(data.day, time.min, tzinfo=UTC)


def handle_scoring_event(envelope: Envelope[EventData], services: Services) -> str:
    data = envelope.data
    if isinstance(data, MatchUpdated | PreviewUpdated):
        return rescore_on_news(data, services)
    if isinstance(data, ModelPromoted):
        return rescore_on_promotion(data, envelope.time, services)
    if not isinstance(data, ScoringRequested):
        raise InvalidEvent(f"batch-score handles {', '.join(SCORING_EVENT_TYPES)} only, not {envelope.type}")
    fetched = latest_input_fetches(services.engine)
    score_step(_fresh_export(services), MLParams.embedded(), scoring_moment(data), log.info, fetched)
    return "scored"


# Match-day news and a new champion re-score the batch from now: the match's newest inputs, or the new
# model, reach GET /predict/{match_id} before the next daily run.
SCORING_EVENT_TYPES = (SCORING_REQUESTED, MATCH_UPDATED, PREVIEW_UPDATED, MODEL_PROMOTED)


def batch_written_at(store: ObjectStore) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(store.get_bytes(LATEST_POINTER))["written_at"])
    except (ObjectNotFound, KeyError, ValueError):
        return None


def rescore_on_news(data: MatchUpdated | PreviewUpdated, services: Services) -> str:
    """Re-score unless a batch written after the news was fetched exists already: a tick announces its
    changes together, and the first re-score (reading the store after the tick wrote) covers them all."""
    return _rescore_unless_written_since(data.fetched_at, services)


def rescore_on_promotion(data: ModelPromoted, announced_at: str | None, services: Services) -> str:
    """Re-score the champion's batch unless it was written after the promotion was announced: scoring
    reads the alias when it runs, so such a batch is the new champion's already."""
    if data.alias != CHAMPION or data.model_name != services.settings.model_name:
        return "skipped"  # another model's, or a challenger: prediction-lookup serves neither
    return _rescore_unless_written_since(datetime.fromisoformat(announced_at) if announced_at else None, services)


def _rescore_unless_written_since(moment: datetime | None, services: Services) -> str:
    """The batch from now, unless the one prediction-lookup serves was written at or after `moment`
    (None: always re-score)."""
    written_at = batch_written_at(services.store)
    if written_at is not None and moment is not None and written_at >= moment:
        return "fresh"
    fetched = latest_input_fetches(services.engine)
    score_step(_fresh_export(services), MLParams.embedded(), None, log.info, fetched)
    return "rescored"
