"""drift-report: logged predictions of a window against the training reference; the report to object storage.

Added here because `t2b drift report` (the observability issue) exists; the step is that command as is.
"""

from __future__ import annotations

from workflows.common import MEDIUM, Node, Pipeline, Schedule, Step, param, wf

REPORT_STEP = Step(
    name="drift-report",
    description="Compares logged predictions with the champion's training reference; HTML + JSON to reports/.",
    command=["drift", "report", "--since", wf("since"), "--until", wf("until")],
    resources=MEDIUM,
    drop_empty=True,
    deadline_s=1800,
)

PIPELINE = Pipeline(
    name="drift-report",
    title="Drift report",
    description="Feature and prediction drift of the served predictions against the training data.",
    parameters=[
        param("since", "", "first served_at included (ISO 8601); empty = the command's default window"),
        param("until", "", "first served_at excluded (ISO 8601); empty = now"),
    ],
    nodes=[Node(REPORT_STEP)],
    deadline_s=3600,
)

SCHEDULE = Schedule(
    pipeline="drift-report",
    name="drift-report-daily",
    cron="30 6 * * *",
    description="Reports drift every day at 06:30 (Europe/London), after the night's batch scoring.",
)
