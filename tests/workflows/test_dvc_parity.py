"""The pipelines' steps are dvc.yaml's stages: the same `t2b` commands with the same options.

Training: every stage after `export` is a step of the same name running the stage's command. Only the
roots of paths differ (dvc's `${data.workdir}` and `metrics/` are the pod's /t2b/var and /t2b/metrics),
`--params` is the workflow's `params` parameter, and the features step reads the object store the ETL
exported to instead of dvc's local mirror (`--raw-dir`). The `export` stage is the etl pipeline's import
and export steps with its parameters at their defaults. Anything else that changes on one side only fails
here.
"""

from __future__ import annotations

import shlex
from itertools import pairwise

import yaml

from shared.workflows.outputs import drop_empty_options
from shared.workflows.runner import substitute
from tests.services import REPO
from workflows import etl, training
from workflows.common import wf

ONLY_IN_DVC = {"features": ["--raw-dir"]}
ETL_STAGE = "export"


def dvc_stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def dvc_commands(stage: str) -> list[list[str]]:
    """Each `t2b` command of the stage, with the environment assignments before it dropped."""
    command = dvc_stages()[stage]["cmd"]
    commands = []
    for part in command.split("&&"):
        words = shlex.split(part)
        while words and (words[0] == "export" or "=" in words[0]):
            words.pop(0)
        if words and words[0] == "t2b":
            commands.append(words[1:])
    assert commands, f"dvc stage {stage} runs no t2b command: {command}"
    return commands


def dvc_command(stage: str) -> list[str]:
    [command] = dvc_commands(stage)
    return command


def in_the_pod(words: list[str], stage: str) -> list[str]:
    translated = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ONLY_IN_DVC.get(stage, []):
            skip = True
            continue
        word = word.replace("${data.workdir}", training.TRAINING_DATA)
        if word.startswith("metrics/"):
            word = f"{training.TRAINING_METRICS}/{word.removeprefix('metrics/')}"
        translated.append(wf("params") if word == "params.yaml" else word)
    return translated


def test_every_training_stage_is_a_step_of_the_training_pipeline() -> None:
    stages = [stage for stage in dvc_stages() if stage != ETL_STAGE]
    assert [node.step.name for node in training.PIPELINE.nodes] == stages


def test_every_training_step_runs_its_dvc_stage_command() -> None:
    for node in training.PIPELINE.nodes:
        assert node.step.command == in_the_pod(dvc_command(node.step.name), node.step.name), node.step.name


def test_steps_run_in_the_order_of_the_dvc_stages() -> None:
    nodes = training.PIPELINE.nodes
    assert all(node.depends_on == [previous.step.name] for previous, node in pairwise(nodes))


def test_the_export_stage_is_the_etl_import_and_export_steps() -> None:
    defaults = {f"workflow.parameters.{p.name}": p.value for p in etl.PIPELINE.parameters}
    defaults["workflow.parameters.source"] = "${data.source}"  # the stage's own input
    steps = [
        drop_empty_options([substitute(word, defaults) for word in step.command])
        for step in (etl.IMPORT_STEP, etl.EXPORT_STEP)
    ]
    assert dvc_commands(ETL_STAGE) == steps


def test_a_drift_is_caught() -> None:
    changed = [*dvc_command("train"), "--train-until", "2019-2020"]
    assert training.TRAIN_STEP.command != in_the_pod(changed, "train")
    ungated = [word for word in dvc_command("register") if word != "--no-promote"]
    assert training.REGISTER_STEP.command != in_the_pod(ungated, "register")
