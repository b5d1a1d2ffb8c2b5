"""GET /monitoring/task_status/{task_id}: an async prediction's state, result or failure reason."""

from fastapi import APIRouter, Depends, HTTPException

from shared.function_spec import FunctionSpec, Resources, Scaling
from shared.jobs import STATUS_ROUTE, JobState, JobStoreUnavailable
from shared.services import Services
from shared.web.app import create_function_app
from shared.web.deps import get_services

SPEC = FunctionSpec(
    name="task-status",
    kind="http",
    description="State of an async prediction: queued, started, finished with the result, or failed with why.",
    queue="api",
    routes=[STATUS_ROUTE],
    requirements="serve",
    resources=Resources(cpu="100m", memory="128Mi", cpu_limit="500m", memory_limit="256Mi"),
    scaling=Scaling(min_scale=0, max_scale=5, target_concurrency=100),
)

router = APIRouter()


@router.get(STATUS_ROUTE, response_model=JobState, responses={404: {}, 503: {}})
def task_status(task_id: str, services: Services = Depends(get_services)) -> JobState:
    try:
        state = services.job_store.get(task_id)
    except JobStoreUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
    if state is None:
        kept = services.settings.async_job_ttl_seconds
        raise HTTPException(404, f"no task {task_id!r}: unknown, or expired (tasks are kept {kept} s)")
    return state


app = create_function_app(SPEC, [router])
