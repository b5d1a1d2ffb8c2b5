"""prediction-log: settled days of the prediction log to parquet in object storage, then retention.

The log grows with every served prediction (#15.9): this nightly step keeps the store bounded.
"""

from __future__ import annotations

from workflows.common import SMALL, Node, Pipeline, Schedule, Step, param, wf

COMPACT_STEP = Step(
    name="compact",
    description="Exports each settled day to predictions/log/date=…/ and drops days past the retention.",
    command=["predictions", "compact", "--retention-days", wf("retention_days")],
    resources=SMALL,
    drop_empty=True,
    deadline_s=1800,
)

PIPELINE = Pipeline(
    name="prediction-log",
    title="Prediction log compaction",
    description="Settled days of the prediction log to parquet, then the store keeps only the retention window.",
    parameters=[
        param("retention_days", "", "days kept in the store; empty = PREDICTION_LOG_RETENTION_DAYS"),
    ],
    nodes=[Node(COMPACT_STEP)],
    deadline_s=3600,
)

SCHEDULE = Schedule(
    pipeline="prediction-log",
    name="prediction-log-nightly",
    cron="15 1 * * *",
    description="Compacts the prediction log every night at 01:15 (Europe/London), before the ETL.",
)
