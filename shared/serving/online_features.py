"""A match's online features, from the materialised team state (in process for a TTL, then Redis,
then object storage)."""

from __future__ import annotations

import threading
import time

from shared.cache import Cache
from shared.errors import Unavailable
from shared.features.state import TEAM_STATE_KEY, FeatureState, online_features
from shared.serving.match_context import MatchContext
from shared.storage import ObjectNotFound, ObjectStore

TEAM_STATE = "team_state"  # the Redis cache of the latest state (dropped by cache-ops on new results)


class FeaturesUnavailable(Unavailable):
    pass


class OnlineFeatures:
    def __init__(self, store: ObjectStore, cache: Cache, ttl_s: float) -> None:
        self._store, self._cache, self._ttl_s = store, cache, ttl_s
        self._state: FeatureState | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def fresh(self) -> bool:
        """True while state() answers from memory, without Redis or the object store."""
        return self._state is not None and time.monotonic() - self._loaded_at <= self._ttl_s

    def state(self) -> FeatureState:
        if self._state is None or time.monotonic() - self._loaded_at > self._ttl_s:
            with self._lock:
                if self._state is None or time.monotonic() - self._loaded_at > self._ttl_s:
                    self._state, self._loaded_at = self._load(), time.monotonic()
        return self._state

    def of(self, match: MatchContext) -> tuple[FeatureState, dict[str, float]]:
        """The state the features were computed from (its date goes into the answer) and the features."""
        state = self.state()
        features = online_features(
            state,
            match.home_team_id,
            match.away_team_id,
            match.kickoff,
            match.odds,
            league=match.league,
            season=match.season,
        )
        return state, features

    def _load(self) -> FeatureState:
        payload = self._cache.get_json(TEAM_STATE, "latest")
        if payload is not None:
            return FeatureState.from_json(payload.encode())
        try:
            raw = self._store.get_bytes(TEAM_STATE_KEY)
        except ObjectNotFound:
            raise FeaturesUnavailable("no team state materialised yet: run `t2b features build`") from None
        self._cache.set_json(TEAM_STATE, "latest", raw.decode(), int(self._ttl_s))
        return FeatureState.from_json(raw)
