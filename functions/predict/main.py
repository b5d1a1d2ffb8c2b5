"""POST /predict: home/draw/away probabilities from the champion model, synchronously."""

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from shared.serving.runtime import (
    as_http_error,
    predict_service,
    prediction_lifespan,
    service_built,
    settle_heap,
)
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
async def predict(request: PredictRequest) -> Response:
    """Warm requests by team names run on the event loop (CPU work and an awaited Redis lookup: a
    thread hop would cost more than the work); the rest may wait on the database, object storage
    or MLflow and run on a worker thread."""
    # the first call builds the process's clients and starts the log writer: off the loop
    service = predict_service() if service_built() else await run_in_threadpool(predict_service)
    try:
        if service.answers_in_memory(request):
            settle_heap()  # the first time everything is loaded
            answer = await service.predict_on_loop(request)
        else:
            answer = await run_in_threadpool(service.predict, request)
    except Exception as exc:
        raise as_http_error(exc) from exc
    # Serialised by pydantic-core in one step; FastAPI's response_model path would validate the
    # model it was just given once more.
    return Response(answer.model_dump_json(), media_type="application/json")


app = create_function_app(SPEC, [router], lifespan=prediction_lifespan)
