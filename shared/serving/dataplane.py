"""POST /predict's data plane (as MLServer separates its data plane from its endpoints): one object
composed of the jobs of a prediction, each its own collaborator:

  match context (MatchContexts) → online features (OnlineFeatures) → model (ChampionModel)
  → answers already given (PredictionCache, in memory) → the log of what was served (ServedLog).

Warm requests by team names run on the event loop (CPU work only: a thread hop would cost more than
the work); the rest may wait on the database, object storage or MLflow and run on a worker thread.
The infer function calls `predict` from its own thread.
"""

from __future__ import annotations

import gc
import math
import time
from typing import TYPE_CHECKING

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from shared.errors import FunctionError, outage
from shared.ml.predictor import MARKET_COLUMNS, NO_MARKET, PRE_KICKOFF
from shared.serving.champion import ChampionModel, ModelUnavailable
from shared.serving.match_context import MatchContexts
from shared.serving.online_features import OnlineFeatures
from shared.serving.prediction_cache import PredictionCache, cache_key
from shared.serving.schemas import ModelRef, PredictRequest, PredictResponse, Probabilities
from shared.serving.served_log import OUTCOMES, ServedLog

if TYPE_CHECKING:
    from shared.services import Services

# Young collections this far apart: a request leaves few reference cycles, and with 700 (Python's
# default) the collector ran every few requests.
YOUNG_COLLECTION_THRESHOLD = (10_000, 10, 10)


class DataPlane:
    def __init__(
        self,
        matches: MatchContexts,
        features: OnlineFeatures,
        champion: ChampionModel,
        cache: PredictionCache,
        served: ServedLog,
        *,
        settle_heap: bool,
    ) -> None:
        self.matches = matches
        self.features = features
        self.champion = champion
        self.cache = cache
        self.served = served
        self._heap_unsettled = settle_heap

    @classmethod
    def from_services(cls, services: Services, function: str = "predict") -> DataPlane:
        settings = services.settings
        return cls(
            MatchContexts(lambda: services.engine, services.store),
            OnlineFeatures(services.store, services.cache, settings.team_state_cache_ttl_seconds),
            services.champion,
            PredictionCache(settings.prediction_memory_cache_size),
            ServedLog(services.prediction_log, function),
            # process-wide collector tuning: only where this function has the interpreter to itself
            settle_heap=not services.shares_interpreter,
        )

    async def answer(self, request: PredictRequest) -> PredictResponse:
        """On the loop when everything the request needs is in memory, else on a worker thread."""
        if self.answers_in_memory(request):
            self.settle_heap()  # the first time everything is loaded
            return self.predict(request)
        return await run_in_threadpool(self.predict, request)

    def answers_in_memory(self, request: PredictRequest) -> bool:
        """True when the request needs only CPU work: teams named, and the team directory, team state
        and champion loaded."""
        return self.matches.in_memory(request) and self.champion.loaded_version is not None and self.features.fresh()

    def predict(self, request: PredictRequest) -> PredictResponse:
        """The answer this process gave before for the same model and features, else the model's."""
        started = time.perf_counter()
        match = self.matches.of(request)
        state, features = self.features.of(match)
        model = self.champion.current()
        key = cache_key(model, features)
        probabilities = self.cache.remembered(key)
        cached = probabilities is not None
        if probabilities is None:
            probabilities = model.probabilities(features)
            self.cache.remember(key, probabilities)
        response = PredictResponse(
            match_id=match.match_id,
            home_team=match.home_team,
            away_team=match.away_team,
            kickoff=match.kickoff,
            probabilities=Probabilities(**dict(zip(OUTCOMES, probabilities, strict=True))),
            model=ModelRef(name=model.name, version=model.version),
            features_as_of=state.results_applied_until,
            cached=cached,
            market=NO_MARKET if math.isnan(features[MARKET_COLUMNS[0]]) else PRE_KICKOFF,
        )
        self.served.record(match, model, features, probabilities, cached, (time.perf_counter() - started) * 1000)
        return response

    def readiness(self) -> tuple[bool, dict[str, str]]:
        """Pinned to a version (MODEL_VERSION): ready only once that version is loaded, with the
        reason while it cannot be. Following the alias: ready at once (the champion may not exist
        yet: requests answer 503 until it does)."""
        if self.champion.pinned_version is None:
            return True, {"status": "ok"}
        try:
            loaded = self.champion.current()
        except ModelUnavailable as exc:
            return False, {"status": "not ready", "reason": str(exc)}
        return True, {"status": "ok", "model_version": loaded.version}

    def settle_heap(self) -> None:
        """Once the model, team state and team directory are loaded, everything alive (the libraries,
        the model) is moved out of the collector's sight, whose full collections walked it all and
        set the p99 of POST /predict (`t2b bench serve`). Never in a shared interpreter: the tuning is
        process-wide.

        No full collection first: after the first answer it found under a hundred unreachable objects
        (frozen instead, a few KB for the process's life) and held the event loop 25-55 ms, so the
        second request and every one in flight waited for it."""
        if self._heap_unsettled:
            self._heap_unsettled = False
            gc.freeze()
            gc.set_threshold(*YOUNG_COLLECTION_THRESHOLD)


async def data_plane(services: Services) -> DataPlane:
    """The process's data plane; its first build (clients, the log writer process) runs off the loop."""
    if services.built("predictions"):
        return services.predictions
    return await run_in_threadpool(lambda: services.predictions)


def as_http_error(exc: Exception) -> HTTPException:
    """What sync POST /predict answers to a failure (async jobs record the same); anything else is a bug
    and is raised again."""
    known = exc if isinstance(exc, FunctionError) else outage(exc)
    if known is None:
        raise exc
    return HTTPException(known.status_code, str(known), headers=known.headers())
