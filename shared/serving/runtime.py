"""Process-wide serving objects, built once per process from the settings (FastAPI dependencies)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi import FastAPI, HTTPException

from shared.cache import get_cache
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
def predict_service() -> PredictService:
    return PredictService(get_engine(), get_store(), get_cache(), champion(), prediction_log(), get_settings())


@asynccontextmanager
async def prediction_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Flush the prediction log when the process stops (Knative scales to zero often)."""
    yield
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
    for factory in (champion, prediction_log, predict_service):
        factory.cache_clear()
