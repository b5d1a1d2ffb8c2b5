"""batch-scoring: batch features (team state) -> batch score -> cache warm-up.

The warm-up (shared/serving/warmup.py) reads the new batch as prediction-lookup will serve it and fails
the run when it could not be served; with REDIS_URL it puts the fresh team state and POST /predict's
answer for every scored match in Redis, so the first request for a scheduled match is a cache hit.
"""

from __future__ import annotations

from workflows.common import MEDIUM, POD_ROOT, SMALL, Node, Output, Pipeline, Schedule, Step, param, wf

WARM_UP_SUMMARY = f"{POD_ROOT}/metrics/warm-up.json"

FEATURES_STEP = Step(
    name="batch-features",
    description="Rebuilds the feature table and the materialised team state in the object store.",
    command=["features", "build", "--params", wf("params"), "--out", f"{POD_ROOT}/var/features/features.parquet"],
    resources=MEDIUM,
    drop_empty=True,
)
SCORE_STEP = Step(
    name="batch-score",
    description="The champion's predictions of every scheduled match to predictions/batch/date=.../.",
    command=["score", "--params", wf("params"), "--as-of", wf("as-of")],
    resources=MEDIUM,
    drop_empty=True,
)
WARM_UP_STEP = Step(
    name="cache-warm-up",
    description="Checks the batch as prediction-lookup serves it; puts the fresh team state in Redis.",
    command=["cache", "warm", "--out", WARM_UP_SUMMARY],
    resources=SMALL,
    outputs=[
        Output("batch-key", WARM_UP_SUMMARY, "batch_key", "the batch prediction-lookup now serves"),
        Output("predictions", WARM_UP_SUMMARY, "predictions", "matches in the batch"),
        Output("team-state-warmed", WARM_UP_SUMMARY, "team_state_warmed", "team state in Redis (false: no REDIS_URL)"),
    ],
    deadline_s=1800,
)
PIPELINE = Pipeline(
    name="batch-scoring",
    title="Batch scoring",
    description="The champion scores the coming matches; prediction-lookup serves the batch; Redis gets the state.",
    parameters=[
        param("params", "", "a params.yaml the pod can read (features section); empty = the embedded defaults"),
        param("as-of", "", "YYYY-MM-DD: score every match after it as if unplayed; empty = scheduled matches"),
    ],
    nodes=[
        Node(FEATURES_STEP),
        Node(SCORE_STEP, depends_on=["batch-features"]),
        Node(WARM_UP_STEP, depends_on=["batch-score"]),
    ],
    deadline_s=2 * 3600,
)

SCHEDULE = Schedule(
    pipeline="batch-scoring",
    name="batch-scoring-daily",
    cron="30 5 * * *",
    description="Scores the coming matches every day at 05:30 (Europe/London), after the nightly ETL.",
)
