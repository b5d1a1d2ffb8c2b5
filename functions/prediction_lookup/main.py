"""GET /predict/{match_id}: the precomputed answer from the latest batch scoring."""

from fastapi import APIRouter, Depends, Path

from shared.function_spec import FunctionSpec
from shared.services import Services
from shared.serving.batch_lookup import BatchPrediction, BatchPredictions
from shared.web.app import create_function_app
from shared.web.deps import get_services

SPEC = FunctionSpec(
    name="prediction-lookup",
    kind="http",
    description="Precomputed predictions for scheduled matches, from the latest batch-scoring parquet.",
    queue="api",
    requirements="serve",
    routes=["/predict/{match_id}"],
)

router = APIRouter()


def batch_predictions(services: Services = Depends(get_services)) -> BatchPredictions:
    return services.batch_predictions


@router.get("/predict/{match_id}", response_model=BatchPrediction, responses={404: {}, 503: {}})
def lookup(match_id: int = Path(ge=1), batch: BatchPredictions = Depends(batch_predictions)) -> BatchPrediction:
    return batch.get(match_id)


app = create_function_app(SPEC, [router])
