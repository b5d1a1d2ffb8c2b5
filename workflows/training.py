"""training: features -> train -> evaluate -> register (challenger) -> gate (champion or not).

The steps are dvc.yaml's stages, command for command: tests/workflows/test_dvc_parity.py fails when the
two drift apart. Paths differ only in their root: dvc's `${data.workdir}` and `metrics/` are TRAINING_DATA
and TRAINING_METRICS here, and the features step reads the object store the ETL exported to instead of
dvc's local mirror of it (`--raw-dir`). `--params` is the `params` parameter: empty means the embedded
defaults (the same values as params.yaml, which the image does not carry).
"""

from __future__ import annotations

from hera.workflows import Artifact

from workflows.common import LARGE, MEDIUM, POD_ROOT, Node, Output, Pipeline, Schedule, Step, param, wf

TRAINING_DATA = f"{POD_ROOT}/var"
TRAINING_METRICS = f"{POD_ROOT}/metrics"
FEATURES = f"{TRAINING_DATA}/features/features.parquet"
MODEL = f"{TRAINING_DATA}/model"
REGISTERED = f"{TRAINING_METRICS}/register.json"
PARAMS = wf("params")


def _features_in() -> Artifact:
    return Artifact(name="features", path=FEATURES)


def _model_in() -> Artifact:
    return Artifact(name="model", path=MODEL)


FEATURES_STEP = Step(
    name="features",
    drop_empty=True,
    description="Point-in-time features of every exported match; the team state goes to the object store.",
    command=[
        "features",
        "build",
        "--params",
        PARAMS,
        "--out",
        FEATURES,
        "--state-out",
        f"{TRAINING_DATA}/features/team_state.json",
    ],
    artifacts=[
        Artifact(name="features", path=FEATURES),
        Artifact(name="team-state", path=f"{TRAINING_DATA}/features/team_state.json"),
    ],
)
TRAIN_STEP = Step(
    name="train",
    drop_empty=True,
    description="LightGBM outcome model on every season up to evaluate.train_until.",
    command=[
        "train",
        "--params",
        PARAMS,
        "--features",
        FEATURES,
        "--out",
        MODEL,
        "--metrics",
        f"{TRAINING_METRICS}/train.json",
    ],
    resources=LARGE,
    inputs=[_features_in()],
    artifacts=[
        Artifact(name="model", path=MODEL),
        Artifact(name="train-metrics", path=f"{TRAINING_METRICS}/train.json"),
    ],
)
EVALUATE_STEP = Step(
    name="evaluate",
    drop_empty=True,
    description="The model against the closing market, Elo and class frequencies on the test seasons.",
    command=[
        "evaluate",
        "--params",
        PARAMS,
        "--features",
        FEATURES,
        "--model",
        MODEL,
        "--metrics",
        f"{TRAINING_METRICS}/evaluate.json",
        "--plots-dir",
        f"{TRAINING_METRICS}/plots",
        "--report",
        f"{TRAINING_METRICS}/evaluation.md",
    ],
    inputs=[_features_in(), _model_in()],
    artifacts=[
        Artifact(name="evaluation", path=f"{TRAINING_METRICS}/evaluation.md"),
        Artifact(name="plots", path=f"{TRAINING_METRICS}/plots"),
    ],
    outputs=[
        Output("rps", f"{TRAINING_METRICS}/evaluate.json", "test_model_rps", "the model's RPS on the test seasons"),
        Output(
            "gap-to-market",
            f"{TRAINING_METRICS}/evaluate.json",
            "gap_to_market_rps",
            "model RPS minus the closing market's (negative = better than the market)",
        ),
    ],
)
REGISTER_STEP = Step(
    name="register",
    drop_empty=True,
    description="Logs the model with its evaluation to MLflow and aliases it challenger.",
    command=[
        "model",
        "register",
        "--params",
        PARAMS,
        "--features",
        FEATURES,
        "--model",
        MODEL,
        "--no-promote",
        "--out",
        REGISTERED,
    ],
    resources=MEDIUM,
    inputs=[_features_in(), _model_in()],
    artifacts=[Artifact(name="registered", path=REGISTERED)],
    outputs=[Output("model-version", REGISTERED, "version", "the registered model version")],
)
GATE_STEP = Step(
    name="gate",
    description="Moves champion to the registered version only if it beats the champion on the same matches.",
    command=[
        "model",
        "gate",
        "--features",
        FEATURES,
        "--registered",
        REGISTERED,
        "--out",
        f"{TRAINING_METRICS}/gate.json",
    ],
    resources=MEDIUM,
    inputs=[_features_in(), Artifact(name="registered", path=REGISTERED)],
    outputs=[
        Output("promoted", f"{TRAINING_METRICS}/gate.json", "promoted", "whether the gate made it champion"),
        Output("champion-version", f"{TRAINING_METRICS}/gate.json", "champion", "the champion after the gate"),
    ],
)

PIPELINE = Pipeline(
    name="training",
    title="Training",
    description="Features, LightGBM training, evaluation against the market, MLflow registration and the "
    "champion gate: the dvc.yaml stages as pods.",
    parameters=[
        param("params", "", "a params.yaml the pod can read (features/train/evaluate); empty = the embedded defaults"),
    ],
    nodes=[
        Node(FEATURES_STEP),
        Node(TRAIN_STEP, depends_on=["features"]),
        Node(EVALUATE_STEP, depends_on=["train"]),
        Node(REGISTER_STEP, depends_on=["evaluate"]),
        Node(GATE_STEP, depends_on=["register"]),
    ],
)

SCHEDULE = Schedule(
    pipeline="training",
    name="training-weekly",
    cron="0 4 * * 1",
    description="Retrains every Monday at 04:00 (Europe/London), after the weekend's results are in.",
)
