"""GET /monitoring/task_status/{task_id}: an async prediction's state, result or failure reason."""

from fastapi import APIRouter, HTTPException

from shared.config import get_settings
from shared.jobs import STATUS_ROUTE, JobState, JobStoreUnavailable, job_store
from shared.web.app import create_function_app
from shared.web.spec import FunctionSpec, Resources, Scaling

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
def task_status(task_id: str) -> JobState:
    try:
        state = job_store().get(task_id)
    except JobStoreUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "5"}) from exc
    if state is None:
        kept = get_settings().async_job_ttl_s
        raise HTTPException(404, f"no task {task_id!r}: unknown, or expired (tasks are kept {kept} s)")
    return state


app = create_function_app(SPEC, [router])
