"""The local runner's Argo semantics on small hand-written workflows whose steps are `python -c` one-liners.

The real pipelines (test_local_runs.py) only ever take the happy path of most features; these pin down
retries on exit 75 only, backoff, parallel branches, parameter and output passing, `when`, failFast and
the exit handler's view of a failure.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.workflows.runner import WorkflowError, run_workflow

FOLDER = "{{workflow.parameters.folder}}"
RETRY = {
    "limit": 2,
    "retryPolicy": "Always",
    "expression": "asInt(lastRetry.exitCode) == 75",
    "backoff": {"duration": "1s", "factor": 2, "maxDuration": "1m"},
}


def python_step(
    name: str, code: str, inputs: list[str] = (), outputs: list[str] = (), args: list[str] = ()
) -> dict[str, Any]:
    template: dict[str, Any] = {
        "name": name,
        # the pod path as an argument: the runner maps /t2b/... arguments to the step's folder
        "container": {"image": "python", "command": [sys.executable, "-c", code, "/t2b/out", *args]},
        "retryStrategy": RETRY,
    }
    if inputs:
        template["inputs"] = {"parameters": [{"name": item} for item in inputs]}
    if outputs:
        template["outputs"] = {
            "parameters": [{"name": item, "valueFrom": {"path": f"/t2b/out/{item}"}} for item in outputs]
        }
    return template


def workflow(tasks: list[dict[str, Any]], templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "test"},
        "spec": {
            "entrypoint": "main",
            "parallelism": 2,
            "arguments": {"parameters": [{"name": "folder", "value": ""}]},
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates],
            **spec,
        },
    }


def exit_code_sequence(marker: str, codes: list[int]) -> str:
    """Exits with codes[n] on the n-th attempt (counted in a marker file), then 0."""
    return (
        "import pathlib,sys; p=pathlib.Path('{{workflow.parameters.folder}}')/"
        f"'{marker}'; n=len(p.read_text()) if p.exists() else 0; p.write_text('x'*(n+1)); "
        f"codes={codes!r}; sys.exit(codes[n] if n < len(codes) else 0)"
    )


def run(document: dict[str, Any], folder: Path, **parameters: str):
    return run_workflow(document, {"folder": str(folder), **parameters}, folder / "runs", backoff_scale=0.01)


def test_a_temporary_failure_is_retried_and_succeeds(tmp_path: Path) -> None:
    document = workflow([{"name": "flaky", "template": "flaky"}], [python_step("flaky", exit_code_sequence("a", [75]))])
    result = run(document, tmp_path)
    assert result.status == "Succeeded"
    assert result.nodes["flaky"].attempts == 2 and result.nodes["flaky"].phase == "Succeeded"


@pytest.mark.parametrize("code", [1, 2, 3])
def test_other_failures_are_not_retried(tmp_path: Path, code: int) -> None:
    document = workflow([{"name": "bad", "template": "bad"}], [python_step("bad", exit_code_sequence("a", [code]))])
    result = run(document, tmp_path)
    assert result.status == "Failed"
    assert result.nodes["bad"].attempts == 1 and result.nodes["bad"].exit_code == code
    assert result.failed_node().name == "bad"


def test_retries_stop_at_the_limit(tmp_path: Path) -> None:
    document = workflow(
        [{"name": "down", "template": "down"}], [python_step("down", exit_code_sequence("a", [75, 75, 75, 75]))]
    )
    result = run(document, tmp_path)
    assert result.status == "Failed" and result.nodes["down"].attempts == 3  # 1 + limit 2


def test_branches_run_in_parallel_and_outputs_flow_downstream(tmp_path: Path) -> None:
    slow = (
        "import pathlib,sys,time; f=pathlib.Path('{{workflow.parameters.folder}}'); "
        "(f/'{{inputs.parameters.me}}.start').write_text(str(time.time())); time.sleep(1.5); "
        "(f/'{{inputs.parameters.me}}.end').write_text(str(time.time())); "
        "out=pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True); "
        "(out/'value').write_text('{{inputs.parameters.me}}-done')"
    )
    join = (
        "import pathlib; pathlib.Path('{{workflow.parameters.folder}}', 'joined').write_text("
        "'{{inputs.parameters.left}}+{{inputs.parameters.right}}')"
    )
    document = workflow(
        [
            {"name": "a", "template": "slow", "arguments": {"parameters": [{"name": "me", "value": "a"}]}},
            {"name": "b", "template": "slow", "arguments": {"parameters": [{"name": "me", "value": "b"}]}},
            {
                "name": "c",
                "template": "join",
                "dependencies": ["a", "b"],
                "arguments": {
                    "parameters": [
                        {"name": "left", "value": "{{tasks.a.outputs.parameters.value}}"},
                        {"name": "right", "value": "{{tasks.b.outputs.parameters.value}}"},
                    ]
                },
            },
        ],
        [python_step("slow", slow, inputs=["me"], outputs=["value"]), python_step("join", join, ["left", "right"])],
    )
    result = run(document, tmp_path)
    assert result.status == "Succeeded", {n.name: n.message for n in result.nodes.values()}
    times = {name: float((tmp_path / name).read_text()) for name in ("a.start", "a.end", "b.start", "b.end")}
    assert times["a.start"] < times["b.end"] and times["b.start"] < times["a.end"], "a and b did not overlap"
    assert (tmp_path / "joined").read_text() == "a-done+b-done"


def test_a_failure_omits_downstream_steps_and_the_exit_handler_sees_it(tmp_path: Path) -> None:
    record = "import json,pathlib,sys; pathlib.Path(sys.argv[2], 'exit.json').write_text(json.dumps(sys.argv[3:]))"
    document = workflow(
        [
            {"name": "first", "template": "bad"},
            {"name": "second", "template": "ok", "dependencies": ["first"]},
            {"name": "skipped", "template": "ok", "when": "{{workflow.parameters.folder}} == nowhere"},
        ],
        [
            python_step("bad", exit_code_sequence("a", [2])),
            python_step("ok", "pass"),
            python_step("record", record, args=[FOLDER, "{{workflow.status}}", "{{workflow.failures}}"]),
        ],
        onExit="record",
    )
    result = run(document, tmp_path)
    assert (result.status, result.nodes["second"].phase, result.nodes["skipped"].phase) == (
        "Failed",
        "Omitted",
        "Skipped",
    )
    status, failures = json.loads((tmp_path / "exit.json").read_text())
    assert status == "Failed"
    assert [(f["displayName"], f["templateName"], f["phase"]) for f in json.loads(failures)] == [
        ("first", "bad", "Failed")
    ]
    assert result.nodes["onExit"].phase == "Succeeded"


def test_a_step_past_its_deadline_fails(tmp_path: Path) -> None:
    step = python_step("sleepy", "import time; time.sleep(30)")
    step["activeDeadlineSeconds"] = 1
    result = run(workflow([{"name": "sleepy", "template": "sleepy"}], [step]), tmp_path)
    assert result.status == "Failed" and "deadline" in result.nodes["sleepy"].message


def test_parameters_are_checked_against_the_declaration(tmp_path: Path) -> None:
    document = workflow([{"name": "ok", "template": "ok"}], [python_step("ok", "pass")])
    document["spec"]["arguments"]["parameters"].append({"name": "mode", "value": "a", "enum": ["a", "b"]})
    with pytest.raises(WorkflowError, match="unknown parameter 'nope'"):
        run(document, tmp_path, nope="1")
    with pytest.raises(WorkflowError, match="not one of a, b"):
        run(document, tmp_path, mode="c")


def test_an_unsupported_feature_is_refused_not_ignored(tmp_path: Path) -> None:
    document = workflow([{"name": "ok", "template": "ok", "withItems": [1, 2]}], [python_step("ok", "pass")])
    with pytest.raises(WorkflowError, match="withItems"):
        run(document, tmp_path)


def test_progress_is_a_live_table_on_a_terminal_and_lines_in_a_log() -> None:
    from rich.console import Console

    from shared.workflows.progress import Progress
    from shared.workflows.runner import Node

    for terminal in (True, False):
        output = io.StringIO()
        progress = Progress(Console(file=output, force_terminal=terminal, width=100), "workflow test")
        with progress.shown():
            progress(Node("train", phase="Running", attempts=1))
            progress(Node("train", phase="Failed", attempts=2, message="exit code 2: bad params"))
        text = output.getvalue()
        if terminal:
            assert "workflow test" in text and "Failed" in text and "\x1b[" in text
        else:
            assert text.splitlines() == ["train: Running", "train: Failed (attempt 2): exit code 2: bad params"]
