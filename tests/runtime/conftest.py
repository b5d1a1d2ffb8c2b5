"""A data directory the main job prepared once (store, raw export, champion, batch) for the runtime tests."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import REPO, python_bin

# Backends the runtime tests choose themselves; an empty value means the embedded default.
BACKEND_VARIABLES = ("DATABASE_URL", "S3_ENDPOINT", "MLFLOW_TRACKING_URI", "REDIS_URL", "AMQP_URL", "SELENOID_URL")


@dataclass(frozen=True)
class PreparedData:
    data_dir: Path
    model_name: str

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


@pytest.fixture(scope="session")
def prepared_data(tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """`t2b demo --no-serve` once: migrate, import, export, train, promote a champion, batch-score."""
    prepared = PreparedData(tmp_path_factory.mktemp("runtime") / "var", f"outcome-{uuid.uuid4().hex[:8]}")
    result = subprocess.run(
        [python_bin("t2b"), "demo", "--no-serve"],
        cwd=REPO,
        env=prepared.env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return prepared
