"""Process-wide serving objects, built once per process from the settings (FastAPI dependencies)."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi import FastAPI, HTTPException

from shared.cache import AsyncCache, get_cache
from shared.config import get_settings
from shared.db.session import get_engine
from shared.features.state import UnknownTeam
from shared.prediction_log import PredictionLogWriter
from shared.serving.champion import ChampionModel, ModelUnavailable
from shared.serving.predict import FeaturesUnavailable, MatchNotFound, PredictService
from shared.serving.teams import UnknownTeamName
from shared.storage import get_store


@lru_cache(maxsize=1)
def champion() -> ChampionModel:
    settings = get_settings()
    return ChampionModel(
        settings.resolved_mlflow_tracking_uri,
        settings.model_name,
        refresh_interval_s=settings.model_refresh_interval_s,
        store=get_store(),
    )


@lru_cache(maxsize=1)
def prediction_log() -> PredictionLogWriter:
    settings = get_settings()
    writer = PredictionLogWriter(get_engine(), settings.prediction_log_batch, settings.prediction_log_flush_s)
    writer.start()
    return writer


@lru_cache(maxsize=1)
def _predict_service() -> PredictService:
    settings = get_settings()
    return PredictService(
        get_engine(), get_store(), get_cache(), AsyncCache(settings), champion(), prediction_log(), settings
    )


_building = threading.Lock()


def predict_service() -> PredictService:
    """The process's service. First requests arrive together on worker threads: without the lock
    each built a service of its own, and with it a prediction-log writer process."""
    with _building:
        return _predict_service()


def service_built() -> bool:
    return _predict_service.cache_info().currsize > 0


_heap_settled = threading.Event()
# Young collections this far apart: a request leaves few reference cycles, and with 700 (Python's
# default) the collector ran every few requests.
YOUNG_COLLECTION_THRESHOLD = (10_000, 10, 10)


def settle_heap() -> None:
    """Call once the model, team state and team directory are loaded. Everything alive then (the
    libraries, the model) is moved out of the collector's sight: full collections walked it all and
    took ~50 ms each, which set the p99 of POST /predict."""
    if not _heap_settled.is_set():
        _heap_settled.set()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*YOUNG_COLLECTION_THRESHOLD)


@asynccontextmanager
async def prediction_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Flush the prediction log when the process stops (Knative scales to zero often), and close
    the loop's Redis connections on the loop that opened them."""
    yield
    if service_built():
        await predict_service().async_cache.aclose()
    if prediction_log.cache_info().currsize:
        prediction_log().close()
        prediction_log.cache_clear()


def as_http_error(exc: Exception) -> HTTPException:
    """Map the serving failures a caller can act on to status codes; anything else is a bug."""
    if isinstance(exc, MatchNotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, UnknownTeamName | UnknownTeam | ValueError):
        return HTTPException(422, str(exc))
    if isinstance(exc, ModelUnavailable | FeaturesUnavailable):
        return HTTPException(503, str(exc), headers={"Retry-After": "30"})
    raise exc


def reset() -> None:
    """Forget every process-wide object (tests switch settings between cases)."""
    if prediction_log.cache_info().currsize:
        prediction_log().close()
    for factory in (champion, prediction_log, _predict_service):
        factory.cache_clear()
