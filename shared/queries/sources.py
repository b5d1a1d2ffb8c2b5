"""The state of each data source, as its ingest runs recorded it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from shared.db.models import IngestRun, RunStatus
from shared.workflows.history import PipelineRuns, recent_runs

# blocked (the source refused us) is a failure to the reader, though the run is retryable
FAILURE_STATUSES = (RunStatus.failed, RunStatus.blocked)


class RunSummary(BaseModel):
    run_id: int
    status: RunStatus
    target: str = Field(description="file path, URL or scrape request the run loaded")
    started_at: datetime
    finished_at: datetime | None
    rows_added: int
    rows_updated: int
    rows_rejected: int
    error: str | None


class SourceSummary(BaseModel):
    source: str = Field(examples=["football-data"])
    runs: int
    runs_by_status: dict[RunStatus, int]
    last_run_at: datetime
    last_success: RunSummary | None
    last_failure: RunSummary | None = Field(description="the latest failed or blocked run")


class SourcesResponse(BaseModel):
    sources: list[SourceSummary]
    workflows: list[PipelineRuns] = Field(
        default_factory=list, description="the latest runs of each Argo pipeline, as their exit handlers reported"
    )


def data_sources(session: Session) -> SourcesResponse:
    counts, last_run_at = _run_counts(session)
    latest = _latest_outcomes(session)
    sources = [
        SourceSummary(
            source=source,
            runs=sum(by_status.values()),
            runs_by_status=by_status,
            last_run_at=last_run_at[source],
            last_success=latest.get((source, True)),
            last_failure=latest.get((source, False)),
        )
        for source, by_status in sorted(counts.items())
    ]
    return SourcesResponse(sources=sources, workflows=recent_runs(session))


def _run_counts(session: Session) -> tuple[dict[str, dict[RunStatus, int]], dict[str, datetime]]:
    query = select(IngestRun.source, IngestRun.status, func.count(), func.max(IngestRun.started_at)).group_by(
        IngestRun.source, IngestRun.status
    )
    counts: dict[str, dict[RunStatus, int]] = defaultdict(dict)
    last_run_at: dict[str, datetime] = {}
    for source, run_status, runs, started in session.execute(query):
        counts[source][run_status] = runs
        last_run_at[source] = max(started, last_run_at.get(source, started))
    return counts, last_run_at


def _latest_outcomes(session: Session) -> dict[tuple[str, bool], RunSummary]:
    """The newest successful and the newest failed run of each source, keyed (source, succeeded)."""
    succeeded = case((IngestRun.status == RunStatus.succeeded, True), else_=False)
    newest_first = func.row_number().over(
        partition_by=(IngestRun.source, succeeded), order_by=(IngestRun.started_at.desc(), IngestRun.id.desc())
    )
    ranked = (
        select(
            IngestRun.source,
            IngestRun.id.label("run_id"),
            IngestRun.status,
            IngestRun.target,
            IngestRun.started_at,
            IngestRun.finished_at,
            IngestRun.rows_added,
            IngestRun.rows_updated,
            IngestRun.rows_rejected,
            IngestRun.error,
            succeeded.label("succeeded"),
            newest_first.label("recency"),
        )
        .where(IngestRun.status.in_((RunStatus.succeeded, *FAILURE_STATUSES)))
        .subquery("ranked")
    )
    query = select(ranked).where(ranked.c.recency == 1)
    return {(row.source, row.succeeded): RunSummary.model_validate(row._mapping) for row in session.execute(query)}
