"""MLServer's LightGBM runtime serving the champion's booster, in a virtualenv of its own.

MLServer pins an older FastAPI than the functions, so it cannot share their environment; the
virtualenv is built once from requirements/bench-mlserver.txt and reused while that file is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np

from shared.processes import REPO, free_port, start_process, stop_process

if TYPE_CHECKING:
    import lightgbm as lgb

REQUIREMENTS = REPO / "requirements" / "bench-mlserver.txt"
DEFAULT_VENV = REPO / "var" / "bench" / "mlserver-venv"
MODEL_NAME = "time2bet-outcome"


class MLServerUnavailable(RuntimeError):
    pass


def ensure_virtualenv(venv: Path, timeout_s: float = 600.0) -> Path:
    """The `mlserver` executable, installing the pinned set first when it is missing or out of date."""
    marker = venv / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    executable = venv / "bin" / "mlserver"
    if executable.exists() and marker.exists() and marker.read_text() == wanted:
        return executable
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise MLServerUnavailable(f"installing {REQUIREMENTS.name} failed: {detail[-1] if detail else exc}") from None
    except subprocess.TimeoutExpired:
        raise MLServerUnavailable(f"installing {REQUIREMENTS.name} took over {timeout_s:.0f} s") from None
    marker.write_text(wanted)
    return executable


def write_repository(root: Path, booster: lgb.Booster, http_port: int) -> Path:
    """A model repository: server settings (loopback, free ports) and the booster as model.txt."""
    model_dir = root / MODEL_NAME
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / "model.txt"))
    model_settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_lightgbm.LightGBMModel",
        "parameters": {"uri": "./model.txt"},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    server_settings = {
        "host": "127.0.0.1",
        "http_port": http_port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "debug": False,  # debug logs every request; the functions run without an access log too
        # Inference in the server process, like the function: 1.7.1's worker processes die at start with
        # uvloop 0.23 ("There is no current event loop"), and a worker would add IPC the function has not.
        "parallel_workers": 0,
    }
    (root / "settings.json").write_text(json.dumps(server_settings, indent=2))
    return root


@dataclass
class MLServer:
    process: subprocess.Popen
    base_url: str

    @property
    def infer_url(self) -> str:
        return f"{self.base_url}/v2/models/{MODEL_NAME}/infer"

    def stop(self) -> None:
        stop_process(self.process)


def start(executable: Path, booster: lgb.Booster, root: Path, logs: Path) -> MLServer:
    port = free_port()
    write_repository(root, booster, port)
    process = start_process([str(executable), "start", str(root)], port, logs / "mlserver.log", cwd=root, timeout=120)
    server = MLServer(process, f"http://127.0.0.1:{port}")
    try:
        _wait_until_ready(server)
    except Exception:
        server.stop()
        raise
    return server


def _wait_until_ready(server: MLServer, attempts: int = 600) -> None:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        for _ in range(attempts):
            if client.get(f"/v2/models/{MODEL_NAME}/ready").status_code == 200:
                return
            time.sleep(0.1)
    raise MLServerUnavailable(f"model {MODEL_NAME} not ready after {attempts / 10:.0f} s")


def v2_request(row: np.ndarray) -> dict[str, Any]:
    """One match's feature vector as a V2 inference request (a 1 x n FP64 tensor)."""
    return {"inputs": [{"name": "features", "shape": [1, len(row)], "datatype": "FP64", "data": row.tolist()}]}
