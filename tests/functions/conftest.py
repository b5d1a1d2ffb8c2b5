"""Fixtures for the HTTP functions: a PostgreSQL store with the real 2021-22 Premier League loaded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shared.db.session import engine_for
from shared.ingest.football_data import import_file
from tests.services import REPO

PREMIER_LEAGUE_2021_22 = REPO / "data" / "demo" / "football-data" / "E0" / "2021-2022.csv"


@pytest.fixture
def store_url(pg_url: str, configure: Callable[..., None]) -> str:
    """An empty migrated PostgreSQL store the functions under test are configured to use."""
    configure(DATABASE_URL=pg_url)
    return pg_url


@pytest.fixture
def premier_league(store_url: str) -> str:
    """The store with every 2021-22 Premier League match imported."""
    result = import_file(engine_for(store_url), PREMIER_LEAGUE_2021_22)
    assert result.ok, result.errors
    return store_url


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One local MLflow store for the session, its tables created up front.

    MLflow creates them with Alembic on first use, which takes seconds and must not overlap the
    store's own Alembic migrations: Alembic keeps its migration context in module globals.
    """
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    MlflowClient(uri, uri).search_registered_models()
    return uri


@pytest.fixture
def truncated_copy(tmp_path: Path) -> Path:
    """The 2021-22 file cut off in the middle of its twelfth line, as an interrupted download leaves it."""
    lines = PREMIER_LEAGUE_2021_22.read_text().splitlines(keepends=True)
    path = tmp_path / "2021-2022.csv"
    path.write_text("".join(lines[:11]) + lines[11][: len(lines[11]) // 2])
    return path
