"""GET /predict/{match_id}: the precomputed answer from the latest batch scoring."""

from functools import lru_cache

from fastapi import APIRouter, Depends, HTTPException, Path

from shared.config import get_settings
from shared.serving.batch_lookup import BatchPrediction, BatchPredictions, BatchUnavailable, NotInBatch
from shared.storage import get_store
from shared.web.app import create_function_app
from shared.web.spec import FunctionSpec

SPEC = FunctionSpec(
    name="prediction-lookup",
    kind="http",
    description="Precomputed predictions for scheduled matches, from the latest batch-scoring parquet.",
    queue="api",
    requirements="serve",
    routes=["/predict/{match_id}"],
)

router = APIRouter()


@lru_cache(maxsize=1)
def batch_predictions() -> BatchPredictions:
    return BatchPredictions(get_store(), get_settings().model_refresh_interval_s)


@router.get("/predict/{match_id}", response_model=BatchPrediction, responses={404: {}, 503: {}})
def lookup(match_id: int = Path(ge=1), batch: BatchPredictions = Depends(batch_predictions)) -> BatchPrediction:
    try:
        return batch.get(match_id)
    except NotInBatch as exc:
        raise HTTPException(404, str(exc)) from None
    except BatchUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "60"}) from None


app = create_function_app(SPEC, [router])
