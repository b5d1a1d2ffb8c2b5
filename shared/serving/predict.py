"""Synchronous prediction: online features from materialised team state, the champion, a cache."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cachetools import TTLCache
from sqlalchemy import Engine, select

from shared.cache import AsyncCache, Cache, fingerprint
from shared.clock import utcnow
from shared.config import Settings
from shared.db.match_join import MatchJoin
from shared.db.models import Competition, Match, Odds, OddsKind, Season
from shared.features.market import Prices, choose_pre_match
from shared.features.state import TEAM_STATE_KEY, FeatureState, online_features
from shared.metrics import CACHE, PREDICTIONS, child
from shared.prediction_log import PredictionLogWriter
from shared.serving.champion import ChampionModel, LoadedModel
from shared.serving.schemas import ModelRef, PredictRequest, PredictResponse, Probabilities
from shared.serving.teams import TeamDirectory
from shared.storage import ObjectNotFound, ObjectStore

OUTCOMES = ("home", "draw", "away")
PREDICTION = "prediction"  # the Redis cache
PREDICTION_IN_MEMORY = "prediction_memory"  # each process's own, in front of Redis


class MatchNotFound(LookupError):
    pass


class FeaturesUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class MatchContext:
    match_id: int | None
    home_team_id: int
    away_team_id: int
    home_team: str
    away_team: str
    kickoff: datetime
    league: str | None
    season: str | None
    odds: Prices | None


@dataclass(frozen=True)
class PreparedPrediction:
    started: float
    match: MatchContext
    state: FeatureState
    features: dict[str, float]
    model: LoadedModel
    key: str  # model name, version and feature fingerprint: equal inputs share the answer
    remembered: list[float] | None


class TeamStateSource:
    """The materialised team state: in process for a TTL, then Redis, then object storage."""

    def __init__(self, store: ObjectStore, cache: Cache, ttl_s: float) -> None:
        self._store, self._cache, self._ttl_s = store, cache, ttl_s
        self._state: FeatureState | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def fresh(self) -> bool:
        """True while get() answers from memory, without Redis or the object store."""
        return self._state is not None and time.monotonic() - self._loaded_at <= self._ttl_s

    def get(self) -> FeatureState:
        if self._state is None or time.monotonic() - self._loaded_at > self._ttl_s:
            with self._lock:
                if self._state is None or time.monotonic() - self._loaded_at > self._ttl_s:
                    self._state, self._loaded_at = self._load(), time.monotonic()
        return self._state

    def _load(self) -> FeatureState:
        payload = self._cache.get_json("team_state", "latest")
        if payload is not None:
            return FeatureState.from_json(payload.encode())
        try:
            raw = self._store.get_bytes(TEAM_STATE_KEY)
        except ObjectNotFound:
            raise FeaturesUnavailable("no team state materialised yet: run `t2b features build`") from None
        self._cache.set_json("team_state", "latest", raw.decode(), int(self._ttl_s))
        return FeatureState.from_json(raw)


class PredictService:
    def __init__(
        self,
        engine: Engine,
        store: ObjectStore,
        cache: Cache,
        async_cache: AsyncCache,
        champion: ChampionModel,
        log_writer: PredictionLogWriter,
        settings: Settings,
        function: str = "predict",
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.async_cache = async_cache
        self.champion = champion
        self.log_writer = log_writer
        self.settings = settings
        self.function = function
        self.team_state = TeamStateSource(store, cache, settings.team_state_cache_ttl_s)
        self._teams: TeamDirectory | None = None
        # A feature vector's answer never changes for one model version, so a process may keep it:
        # repeated requests then skip Redis too.
        self._remembered: TTLCache[str, list[float]] = TTLCache(
            settings.prediction_memory_cache_size, settings.prediction_cache_ttl_s
        )
        self._remembered_lock = threading.Lock()

    @property
    def teams(self) -> TeamDirectory:
        if self._teams is None:
            self._teams = TeamDirectory.load(self.engine)
        return self._teams

    def answers_in_memory(self, request: PredictRequest) -> bool:
        """True when the request needs only CPU work and the Redis cache: teams named, and the team
        directory, team state and champion loaded. predict_on_loop() can then answer it; anything
        else may wait on the database, object storage or MLflow and belongs on a worker thread
        (predict())."""
        return (
            request.match_id is None
            and self._teams is not None
            and self.champion.loaded_version is not None
            and self.team_state.fresh()
        )

    def context(self, request: PredictRequest) -> MatchContext:
        if request.match_id is not None:
            return self._stored_match(request.match_id)
        assert request.home_team and request.away_team and request.kickoff
        home_id, away_id = self.teams.resolve(request.home_team), self.teams.resolve(request.away_team)
        if home_id == away_id:
            raise ValueError("home_team and away_team name the same team")
        odds = (request.odds.home, request.odds.draw, request.odds.away) if request.odds else None
        return MatchContext(
            None,
            home_id,
            away_id,
            self.teams.names[home_id],
            self.teams.names[away_id],
            request.kickoff,
            request.league,
            None,
            odds,
        )

    def _stored_match(self, match_id: int) -> MatchContext:
        teams = MatchJoin()
        query = teams.select(
            Match.home_team_id,
            Match.away_team_id,
            teams.home.name,
            teams.away.name,
            Match.kickoff_utc,
            Competition.code,
            Season.name,
        ).where(Match.id == match_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise MatchNotFound(f"no match with id {match_id}")
            prices = {
                bookmaker: (h, d, a)
                for bookmaker, h, d, a in connection.execute(
                    select(Odds.bookmaker, Odds.home, Odds.draw, Odds.away).where(
                        Odds.match_id == match_id, Odds.kind == OddsKind.opening
                    )
                )
            }
        chosen = choose_pre_match(prices)
        return MatchContext(
            match_id, row[0], row[1], row[2], row[3], row[4], row[5], row[6], chosen[1] if chosen else None
        )

    def prepare(self, request: PredictRequest) -> PreparedPrediction:
        """Everything before the cache lookups: the match, its online features, the model, the key,
        and the answer this process already remembers for that key, if any."""
        started = time.perf_counter()
        match = self.context(request)
        state = self.team_state.get()
        features = online_features(
            state,
            match.home_team_id,
            match.away_team_id,
            match.kickoff,
            match.odds,
            league=match.league,
            season=match.season,
        )
        model = self.champion.current()
        key = f"{model.name}:{model.version}:{fingerprint(features)}"
        with self._remembered_lock:
            remembered = self._remembered.get(key)
        child(CACHE, PREDICTION_IN_MEMORY, "hit" if remembered is not None else "miss").inc()
        return PreparedPrediction(started, match, state, features, model, key, remembered)

    def predict(self, request: PredictRequest) -> PredictResponse:
        """For worker threads and tasks: Redis calls block."""
        prepared = self.prepare(request)
        stored = None if prepared.remembered is not None else self.cache.get_json(PREDICTION, prepared.key)
        ttl_s = self.settings.prediction_cache_ttl_s
        return self.finish(
            prepared, stored, lambda answer: self.cache.set_json(PREDICTION, prepared.key, answer, ttl_s)
        )

    async def predict_on_loop(self, request: PredictRequest) -> PredictResponse:
        """For the event loop, once answers_in_memory(request): the loop serves other requests while
        Redis answers, and a new prediction is written to Redis after the response is on its way."""
        prepared = self.prepare(request)
        stored = None if prepared.remembered is not None else await self.async_cache.get_json(PREDICTION, prepared.key)
        ttl_s = self.settings.prediction_cache_ttl_s
        return self.finish(
            prepared, stored, lambda answer: self.async_cache.set_json_later(PREDICTION, prepared.key, answer, ttl_s)
        )

    def finish(
        self, prepared: PreparedPrediction, stored: list[float] | None, store: Callable[[list[float]], None]
    ) -> PredictResponse:
        """The answer from memory, else from Redis (`stored`), else from the model (then `store`d)."""
        known = prepared.remembered if prepared.remembered is not None else stored
        if known is None:
            probabilities = [float(p) for p in prepared.model.predictor.predict_proba([prepared.features])[0]]
            store(probabilities)
        else:
            probabilities = [float(p) for p in known]
        if prepared.remembered is None:
            with self._remembered_lock:
                self._remembered[prepared.key] = probabilities
        return self._respond(prepared, probabilities, cached=known is not None)

    def _respond(self, prepared: PreparedPrediction, probabilities: list[float], cached: bool) -> PredictResponse:
        match, model = prepared.match, prepared.model
        child(PREDICTIONS, self.function, OUTCOMES[max(range(3), key=probabilities.__getitem__)]).inc()
        response = PredictResponse(
            match_id=match.match_id,
            home_team=match.home_team,
            away_team=match.away_team,
            kickoff=match.kickoff,
            probabilities=Probabilities(**dict(zip(OUTCOMES, probabilities, strict=True))),
            model=ModelRef(name=model.name, version=model.version),
            features_as_of=prepared.state.results_applied_until,
            cached=cached,
        )
        self.log_writer.append(
            {
                "served_at": utcnow(),
                "function": self.function,
                "match_id": match.match_id,
                "home_team_id": match.home_team_id,
                "away_team_id": match.away_team_id,
                "kickoff_utc": match.kickoff,
                "model_name": model.name,
                "model_version": model.version,
                "p_home": probabilities[0],
                "p_draw": probabilities[1],
                "p_away": probabilities[2],
                "features": {k: (None if math.isnan(v) else v) for k, v in prepared.features.items()},  # JSON: no NaN
                "cached": cached,
                "latency_ms": (time.perf_counter() - prepared.started) * 1000,
            }
        )
        return response
