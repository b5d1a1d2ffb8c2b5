"""POST /predict: home/draw/away probabilities from the champion model, synchronously."""

from fastapi import APIRouter, Depends

from shared.serving.predict import PredictService
from shared.serving.runtime import as_http_error, predict_service, prediction_lifespan
from shared.serving.schemas import PredictRequest, PredictResponse
from shared.web.app import create_function_app
from shared.web.spec import FunctionSpec, Resources, Scaling

SPEC = FunctionSpec(
    name="predict",
    kind="http",
    description="Synchronous match prediction from the champion model.",
    queue="ml",
    routes=["/predict"],
    requirements="ml",
    resources=Resources(cpu="500m", memory="512Mi", cpu_limit="1", memory_limit="1Gi"),
    scaling=Scaling(min_scale=0, max_scale=10, target_concurrency=20),
)

router = APIRouter()


@router.post("/predict", response_model=PredictResponse, responses={404: {}, 422: {}, 503: {}})
def predict(request: PredictRequest, service: PredictService = Depends(predict_service)) -> PredictResponse:
    try:
        return service.predict(request)
    except Exception as exc:
        raise as_http_error(exc) from exc


app = create_function_app(SPEC, [router], lifespan=prediction_lifespan)
