"""`t2b bench workflows`: the local training workflow against the same `t2b` commands typed by hand.

Both sides start from the same prepared store (demo data imported and exported once, not timed), each
with its own MLflow store so both register version 1. By hand = the five training commands one after
the other, each its own `t2b` process, as a person (or `dvc repro`) runs them. Workflow = `t2b workflows
run training` in this process: the same commands as steps, plus artifact copies, output parameters and
the exit handler's event. Goal: the workflow takes at most 1.2x the by-hand time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.errors import CommandError
from shared.workflows.outputs import drop_empty_options
from shared.workflows.render import REPO, load
from shared.workflows.runner import POD_ROOT, run_workflow

GOAL_RATIO = 1.2
DEMO_DATA = REPO / "data" / "demo" / "football-data"
BACKENDS = ("DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL")
console = Console()


def bench_workflows_command(
    params: Path | None = typer.Option(None, "--params", help="params.yaml for training (default: embedded)."),
) -> None:
    """Time the local training workflow and the same commands by hand, side by side."""
    with tempfile.TemporaryDirectory(prefix="t2b-bench-workflows-") as scratch:
        root = Path(scratch)
        prepared = _prepare(root / "prepared")
        by_hand = _by_hand(_copy(prepared, root / "by-hand"), params)
        workflow = _workflow(_copy(prepared, root / "workflow"), params)
    table = Table("training on the demo data", "seconds", "vs by hand", title="t2b bench workflows")
    table.add_row("by hand: the same t2b commands", f"{by_hand:.1f}", "1.00x")
    table.add_row("t2b workflows run training", f"{workflow:.1f}", f"{workflow / by_hand:.2f}x")
    console.print(table)
    verdict = "met" if workflow <= GOAL_RATIO * by_hand else "NOT met"
    console.print(f"goal: workflow <= {GOAL_RATIO}x by hand: {verdict}")


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, **dict.fromkeys(BACKENDS, ""), "T2B_DATA_DIR": str(data_dir)}


def _t2b(arguments: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("t2b")), *arguments], cwd=REPO, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise CommandError(f"t2b {' '.join(arguments[:3])} failed: {result.stderr.strip()[-300:]}")


def _prepare(data_dir: Path) -> Path:
    env = _env(data_dir)
    _t2b(["ingest", "football-data", str(DEMO_DATA)], env)
    _t2b(["export"], env)
    return data_dir


def _copy(prepared: Path, target: Path) -> Path:
    shutil.copytree(prepared, target)
    return target


def _by_hand(data_dir: Path, params: Path | None) -> float:
    """The training template's step commands with the pod root as one local folder (no artifact copies)."""
    document = load("training")
    steps = {t["name"]: t for t in document["spec"]["templates"] if "container" in t}
    order = [task["template"] for task in document["spec"]["templates"][0]["dag"]["tasks"]]
    work = data_dir / "by-hand"
    env = _env(data_dir)
    started = time.perf_counter()
    for name in order:
        arguments = steps[name]["container"]["args"]
        command = arguments[arguments.index("--") + 1 :] if "--" in arguments else arguments
        words = [
            word.replace("{{workflow.parameters.params}}", str(params or "")).replace(POD_ROOT, str(work))
            for word in command
        ]
        _t2b(drop_empty_options(words), env)
    return time.perf_counter() - started


def _workflow(data_dir: Path, params: Path | None) -> float:
    saved = dict(os.environ)
    os.environ.update(_env(data_dir))
    try:
        started = time.perf_counter()
        run = run_workflow(load("training"), {"params": str(params or "")}, data_dir / "workflows")
        elapsed = time.perf_counter() - started
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if run.status != "Succeeded":
        failed = run.failed_node()
        raise CommandError(f"the training workflow failed at {failed.name if failed else '?'}")
    return elapsed
