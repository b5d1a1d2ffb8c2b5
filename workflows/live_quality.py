"""live-quality: the prediction log settled against results, for GET /monitoring/quality and t2b_live_*.

Results writers (the football-data import, the WhoScored scrape, the match-day tick) settle the
matches they write as they write them; this hourly step catches up whatever they could not (the store
was down after their write). It scans the whole log, which is why neither the quality function's
request nor its /metrics scrape runs it any more.
"""

from __future__ import annotations

from workflows.common import SMALL, Node, Pipeline, Schedule, Step

SETTLE_STEP = Step(
    name="settle",
    description="Scores each pre-kickoff prediction of a finished match not settled yet, and the market's price.",
    command=["predictions", "settle"],
    resources=SMALL,
    deadline_s=1800,
)

PIPELINE = Pipeline(
    name="live-quality",
    title="Live quality settlement",
    description="Logged predictions of finished matches scored against their results and the pre-kickoff market.",
    parameters=[],
    nodes=[Node(SETTLE_STEP)],
    deadline_s=3600,
)

SCHEDULE = Schedule(
    pipeline="live-quality",
    name="live-quality-hourly",
    cron="20 * * * *",
    description="Settles the prediction log against results every hour at :20 (Europe/London).",
)
