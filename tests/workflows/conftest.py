"""A data directory of the test's own on the embedded defaults (SQLite, local objects, local MLflow)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.prepared import BACKEND_VARIABLES

# Small LightGBM settings: the same pipeline on the demo data in seconds rather than a minute.
FAST_PARAMS = """\
train:
  learning_rate: 0.1
  max_rounds: 60
  early_stopping_rounds: 10
  num_threads: 1
"""


@dataclass(frozen=True)
class LocalData:
    data_dir: Path
    params: Path
    model_name: str

    @property
    def database(self) -> str:
        return f"sqlite:///{self.data_dir / 'time2bet.db'}"

    @property
    def objects(self) -> Path:
        return self.data_dir / "objects"


@contextmanager
def local_environment(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalData]:
    """Steps inherit this environment: every backend on its embedded default under `root`."""
    data = LocalData(root / "var", root / "params.yaml", f"outcome-{uuid.uuid4().hex[:8]}")
    data.params.write_text(FAST_PARAMS)
    for name in BACKEND_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("T2B_DATA_DIR", str(data.data_dir))
    monkeypatch.setenv("T2B_MODEL_NAME", data.model_name)
    yield data


@pytest.fixture
def local_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalData]:
    with local_environment(tmp_path, monkeypatch) as data:
        yield data
