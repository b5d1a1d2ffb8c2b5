"""GET /monitoring/drift/latest: the summary of the last drift report and the keys of its HTML and JSON.

Also exports the summary on /metrics (t2b_drift_share, t2b_drift_feature_score, t2b_drift_feature_drifted).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from shared.function_spec import FunctionSpec
from shared.monitoring import drift
from shared.monitoring.state import register_drift_collector
from shared.queries.api import error_responses
from shared.services import Services
from shared.storage import ObjectNotFound
from shared.web.app import create_function_app
from shared.web.deps import get_services

SPEC = FunctionSpec(
    name="drift-latest",
    kind="http",
    description="The latest drift report of served features and probabilities against the training reference.",
    queue="api",
    requirements="ml",
    routes=["/monitoring/drift/latest"],
)

router = APIRouter(tags=["monitoring"])


@router.get(
    "/monitoring/drift/latest",
    summary="Drift share, per-column drift and the report's object keys (404 before the first report)",
    responses=error_responses(404, 503),
)
def latest_drift(services: Services = Depends(get_services)) -> dict[str, Any]:
    try:
        summary = drift.latest(services.store)
    except ObjectNotFound:
        raise HTTPException(404, "no drift report yet: run `t2b drift report`") from None
    except OSError as error:
        raise HTTPException(503, f"object storage unavailable: {error}", headers={"Retry-After": "30"}) from None
    return drift.summary_dict(summary)


register_drift_collector()
app = create_function_app(SPEC, [router])
