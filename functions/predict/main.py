"""POST /predict: home/draw/away probabilities from the champion model, synchronously."""

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shared.function_spec import READINESS_PATH, FunctionSpec, Resources, Scaling
from shared.services import Services
from shared.serving.dataplane import data_plane
from shared.serving.schemas import PredictRequest, PredictResponse
from shared.web.app import create_function_app
from shared.web.deps import get_services
from shared.web.json_route import JSONBodyRoute

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
hot_path = APIRouter(route_class=JSONBodyRoute)  # FastAPI's declaration, without its per-request solving


@hot_path.post("/predict", response_model=PredictResponse, responses={404: {}, 422: {}, 503: {}})
async def predict(request: PredictRequest, services: Services = Depends(get_services)) -> Response:
    """Home/draw/away probabilities; failures are answered by the app factory's handlers."""
    # One dependency level (each costs the hot path a resolution), and serialised by pydantic-core in
    # one step: FastAPI's response_model path would validate the model it was just given once more.
    plane = await data_plane(services)
    return Response((await plane.answer(request)).model_dump_json(), media_type="application/json")


@router.get(READINESS_PATH, summary="Readiness: with MODEL_VERSION set, 503 and the reason until it loads")
async def ready(services: Services = Depends(get_services)) -> JSONResponse:
    is_ready, body = await run_in_threadpool((await data_plane(services)).readiness)
    return JSONResponse(body, status_code=200 if is_ready else 503)


app = create_function_app(SPEC, [hot_path, router])
