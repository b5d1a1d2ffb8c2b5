"""GET /monitoring/quality: live RPS and log loss per model version against the pre-kickoff market.

Also the exporter of the platform's state (ingest runs, registry champion, live quality) on /metrics:
see shared.monitoring.state.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shared.function_spec import FunctionSpec
from shared.monitoring import quality
from shared.monitoring.state import register_platform_collector
from shared.queries.api import error_responses
from shared.web.app import create_function_app
from shared.web.deps import db_session

SPEC = FunctionSpec(
    name="quality",
    kind="http",
    description="Live model quality: settled predictions per model version against the pre-kickoff market.",
    queue="api",
    requirements="ml",
    routes=["/monitoring/quality"],
)

router = APIRouter(tags=["monitoring"])


class VersionQualityBody(BaseModel):
    model_name: str
    model_version: str
    matches: int
    with_market: int
    rps: float | None
    log_loss: float | None
    market_rps: float | None
    market_log_loss: float | None
    rps_gap: float | None


class QualityBody(BaseModel):
    window: int
    versions: list[VersionQualityBody]


@router.get(
    "/monitoring/quality",
    summary="Per model version: the last N settled matches, model vs pre-kickoff market (lower is better)",
    responses=error_responses(422, 503),
)
def live_quality(
    window: int = Query(default=quality.WINDOW_MATCHES, ge=1, le=10_000, description="settled matches per version"),
    session: Session = Depends(db_session),
) -> QualityBody:
    # Reads the settlements only: settling scans the whole prediction log (minutes on a large one), so
    # results writers and the live-quality CronWorkflow (`t2b predictions settle`) do it.
    try:
        versions = quality.summary(session, window)
    except OperationalError:
        raise HTTPException(503, "the store is unavailable", headers={"Retry-After": "30"}) from None
    return QualityBody(
        window=window,
        versions=[VersionQualityBody(**vars(version), rps_gap=version.rps_gap) for version in versions],
    )


register_platform_collector()
app = create_function_app(SPEC, [router])
