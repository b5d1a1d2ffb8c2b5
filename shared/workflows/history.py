"""The latest runs of each pipeline, for GET /sources (kept free of the events stack: the sources image is small)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.models import WorkflowRun

RECENT_RUNS = 5  # runs of each pipeline GET /sources shows


class WorkflowRunSummary(BaseModel):
    workflow: str
    status: str
    failed_step: str | None
    message: str | None
    duration_s: float
    finished_at: datetime


class PipelineRuns(BaseModel):
    pipeline: str = Field(examples=["etl"])
    runs: list[WorkflowRunSummary] = Field(description=f"the latest {RECENT_RUNS} runs, newest first")


def recent_runs(session: Session, per_pipeline: int = RECENT_RUNS) -> list[PipelineRuns]:
    newest_first = func.row_number().over(
        partition_by=WorkflowRun.pipeline, order_by=(WorkflowRun.finished_at.desc(), WorkflowRun.id.desc())
    )
    ranked = select(WorkflowRun, newest_first.label("recency")).subquery("ranked")
    query = (
        select(ranked)
        .where(ranked.c.recency <= per_pipeline)
        .order_by(ranked.c.pipeline, ranked.c.finished_at.desc(), ranked.c.id.desc())
    )
    by_pipeline: dict[str, list[WorkflowRunSummary]] = {}
    for row in session.execute(query):
        by_pipeline.setdefault(row.pipeline, []).append(WorkflowRunSummary.model_validate(row._mapping))
    return [PipelineRuns(pipeline=pipeline, runs=runs) for pipeline, runs in by_pipeline.items()]
