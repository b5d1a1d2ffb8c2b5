"""POST /predict/async: queue a prediction, answer 202 with the task id; the infer function computes it."""

from fastapi import APIRouter, Depends, HTTPException, Response

from shared.events.publisher import BrokerUnavailable
from shared.function_spec import FunctionSpec, Resources, Scaling
from shared.jobs import JobStoreUnavailable, TaskAccepted, submit_prediction
from shared.services import Services
from shared.serving.schemas import PredictRequest
from shared.web.app import create_function_app
from shared.web.deps import get_services

SPEC = FunctionSpec(
    name="predict-async",
    kind="http",
    description="Queues a match prediction (prediction.requested) and answers with the task to poll.",
    queue="ml",
    routes=["/predict/async"],
    requirements="serve",
    resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
    scaling=Scaling(min_scale=0, max_scale=5, target_concurrency=50),
)

router = APIRouter()


@router.post("/predict/async", status_code=202, response_model=TaskAccepted, responses={422: {}, 503: {}})
def predict_async(
    request: PredictRequest, response: Response, services: Services = Depends(get_services)
) -> TaskAccepted:
    try:
        accepted = submit_prediction(request, services.job_store, services.publisher, source=f"/{SPEC.name}")
    except (JobStoreUnavailable, BrokerUnavailable) as exc:
        raise HTTPException(503, f"cannot queue the prediction now: {exc}", headers={"Retry-After": "30"}) from exc
    response.headers["Location"] = accepted.status_url
    return accepted


app = create_function_app(SPEC, [router])
