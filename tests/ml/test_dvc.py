"""`dvc repro` of the repo's dvc.yaml/params.yaml on a tiny slice, in a scratch git + DVC repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.services import REPO, python_bin

pytestmark = pytest.mark.slow

MOUNT_ML_COMMANDS = """\
from shared.cli.app import app
from shared.ml.cli import (
    backtest_command, evaluate_command, features_app, model_app, score_command, train_command,
)

app.add_typer(features_app, name="features")
app.add_typer(model_app, name="model")
for name, command in (("train", train_command), ("evaluate", evaluate_command),
                      ("backtest", backtest_command), ("score", score_command)):
    app.command(name)(command)
app()
"""


def t2b_with_ml_commands(bin_dir: Path) -> Path:
    """The installed `t2b` if it already mounts the ML commands, else the same app with them mounted."""
    installed = subprocess.run([python_bin("t2b"), "--help"], capture_output=True, text=True)
    if all(command in installed.stdout for command in ("features", "train", "evaluate", "model")):
        return Path(python_bin("t2b")).parent
    bin_dir.mkdir()
    shim = bin_dir / "t2b"
    shim.write_text(f"#!{sys.executable}\n{MOUNT_ML_COMMANDS}")
    shim.chmod(0o755)
    return bin_dir


def test_dvc_repro_runs_every_stage_on_a_tiny_slice(tmp_path: Path, configure) -> None:
    configure()
    repo = tmp_path / "repo"
    source = repo / "data" / "tiny"
    shutil.copytree(REPO / "data" / "demo" / "football-data" / "E0", source / "E0")
    shutil.copy(REPO / "dvc.yaml", repo / "dvc.yaml")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["source"] = "data/tiny"
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    (repo / "shared").symlink_to(REPO / "shared")  # the stages' code dependencies
    env = {
        **os.environ,
        "PATH": f"{t2b_with_ml_commands(tmp_path / 'bin')}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        f"{os.environ['PATH']}",
    }
    for command in (["git", "init", "-q"], [python_bin("dvc"), "init", "-q"], [python_bin("dvc"), "repro"]):
        result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=240)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    evaluation = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert evaluation["test_matches"] == 380 and 0.15 < evaluation["test_model_rps"] < 0.25
    assert json.loads((repo / "metrics" / "register.json").read_text())["version"] == 1
    gate = json.loads((repo / "metrics" / "gate.json").read_text())
    assert (gate["version"], gate["promoted"], gate["champion"]) == (1, True, 1)
    assert (repo / "metrics" / "plots" / "calibration.png").is_file()
    assert (repo / "dvc.lock").is_file()

    again = subprocess.run([python_bin("dvc"), "repro"], cwd=repo, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "didn't change" in again.stdout
