"""The data directory the main job prepares once per test session (see `prepared_data` in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.processes import REPO

# Backends the tests choose themselves; an empty value means the embedded default.
BACKEND_VARIABLES = ("DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL", "SELENOID_URL")


@dataclass(frozen=True)
class PreparedData:
    data_dir: Path
    model_name: str
    demo_output: str  # what `t2b demo --no-serve` printed

    def writable_copy(self, parent: Path) -> PreparedData:
        """A private copy for a test that writes (imports, scrapes): the session's data stays as the demo left it,
        so tests that read it (the UI's season pickers) do not see another test's rows."""
        copy = parent / "var"
        shutil.copytree(self.data_dir, copy)
        return PreparedData(copy, self.model_name, self.demo_output)

    def env(self, **overrides: str) -> dict[str, str]:
        """A child process environment on the embedded defaults of this data directory, plus `overrides`."""
        blanks = dict.fromkeys(BACKEND_VARIABLES, "")
        return {
            **os.environ,
            **blanks,
            "T2B_DATA_DIR": str(self.data_dir),
            "T2B_MODEL_NAME": self.model_name,
            **overrides,
        }

    def run_fresh(self, code: str, timeout_s: float = 300) -> Any:
        """The JSON `code` prints last, run in a fresh interpreter on this data directory: what a function's
        own process imports and keeps, without the test process's modules."""
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=self.env(), capture_output=True, text=True, timeout=timeout_s
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
