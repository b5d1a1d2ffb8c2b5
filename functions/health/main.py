"""Liveness and readiness of the platform's dependencies."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from shared.config import Settings
from shared.function_spec import FunctionSpec
from shared.queries.readiness import Liveness, Readiness, readiness
from shared.web.app import create_function_app
from shared.web.deps import settings

SPEC = FunctionSpec(
    name="health",
    kind="http",
    description="Liveness, and readiness with the state of the store, object storage, MLflow and Redis.",
    queue="api",
    requirements="ml",
    routes=["/health", "/health/ready"],
)

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers (no I/O)")
def live() -> Liveness:
    return Liveness()


@router.get(
    "/health/ready",
    summary="Readiness: 200 while the store answers, 503 otherwise; other dependencies are reported",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"model": Readiness, "description": "the store is down"}},
    response_model_exclude_none=True,
)
def ready(response: Response, config: Settings = Depends(settings)) -> Readiness:
    report = readiness(config)
    if not report.ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return report


app = create_function_app(SPEC, [router])
