"""Ingest runs: every load (a file, a scrape) is recorded with its counts and outcome.

The run row is written in its own transaction before the data and closed after it, so a run whose
data transaction rolled back still says what failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, update

from shared.clock import utcnow
from shared.db.models import IngestRun, RunStatus
from shared.db.session import transaction


@dataclass
class RunCounts:
    added: int = 0
    updated: int = 0
    rejected: int = 0
    details: dict[str, Any] = field(default_factory=dict)


class RunBlocked(Exception):
    """The source refused us (block page, challenge): retryable later, recorded as `blocked`."""


@contextmanager
def ingest_run(engine: Engine, source: str, target: str) -> Iterator[RunCounts]:
    """Record a run around a block of work; its status follows how the block ends."""
    with transaction(engine) as session:
        run_id = session.scalars(
            insert(IngestRun).returning(IngestRun.id),
            [
                {
                    "source": source,
                    "target": target[:512],
                    "status": RunStatus.running,
                    "started_at": utcnow(),
                    "rows_added": 0,
                    "rows_updated": 0,
                    "rows_rejected": 0,
                }
            ],
        ).one()
    counts = RunCounts()
    try:
        yield counts
    except RunBlocked as exc:
        _finish(engine, run_id, RunStatus.blocked, counts, str(exc))
        raise
    except BaseException as exc:
        _finish(engine, run_id, RunStatus.failed, counts, str(exc) or type(exc).__name__)
        raise
    else:
        _finish(engine, run_id, RunStatus.succeeded, counts, None)


def _finish(engine: Engine, run_id: int, status: RunStatus, counts: RunCounts, error: str | None) -> None:
    with transaction(engine) as session:
        session.execute(
            update(IngestRun)
            .where(IngestRun.id == run_id)
            .values(
                status=status,
                finished_at=utcnow(),
                rows_added=counts.added,
                rows_updated=counts.updated,
                rows_rejected=counts.rejected,
                error=error,
                details=counts.details or None,
            )
        )
