"""Shared data for the ML tests: the demo CSVs loaded once into a store and exported as tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from shared.db import migrate
from shared.db.session import engine_for
from shared.export import matches_table, odds_table
from shared.ingest.football_data import discover, import_file
from tests.services import REPO

DEMO_DATA = REPO / "data" / "demo" / "football-data"


@dataclass(frozen=True)
class DemoTables:
    matches: pa.Table
    odds: pa.Table
    database_url: str


def load_tables(source: Path, database: Path) -> DemoTables:
    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    engine = engine_for(url)
    for path in discover([source]):
        assert import_file(engine, path).ok, path
    return DemoTables(matches_table(engine), odds_table(engine), url)


@pytest.fixture(scope="session")
def demo_tables(tmp_path_factory: pytest.TempPathFactory) -> DemoTables:
    return load_tables(DEMO_DATA, tmp_path_factory.mktemp("demo-store") / "store.db")
