"""POST /predict resolves team names through the export's copy of the team directory, and through the
database for a name added since the export (once per process), on the main job's data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from functions.predict.main import app
from shared.services import Services
from shared.serving.teams import TEAM_DIRECTORY_KEY, TeamDirectory
from shared.storage import LocalObjectStore
from shared.teams import TeamResolver
from tests.prepared import PreparedData

pytestmark = pytest.mark.slow

BODY = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": "2022-04-19T19:00:00Z"}


def test_a_name_added_after_the_export_resolves_through_the_database(
    writable_data: PreparedData,
    configure: Callable[..., None],
    make_services: Callable[[], Services],
    client_for: Callable[..., TestClient],
) -> None:
    configure(T2B_DATA_DIR=str(writable_data.data_dir), T2B_MODEL_NAME=writable_data.model_name)
    services = make_services()
    exported = TeamDirectory.read(services.store)
    assert exported is not None and exported == TeamDirectory.load(services.engine)  # what `t2b export` wrote
    united = exported.resolve("Man United")
    with Session(services.engine) as session, session.begin():  # a spelling a later import brought
        TeamResolver(session).add_alias("Red Devils", united)

    with client_for(app, services=services) as client:
        known = client.post("/predict", json=BODY)
        assert known.status_code == 200, known.text
        added = client.post("/predict", json={**BODY, "home_team": "Red Devils"})
        assert added.status_code == 200, added.text
        assert added.json()["home_team"] == known.json()["home_team"]
        typo = client.post("/predict", json={**BODY, "home_team": "Manchester Utd"})
        assert typo.status_code == 422 and "Man United" in typo.json()["detail"]


def test_an_unreadable_export_copy_leaves_the_database_to_answer(tmp_path) -> None:
    store = LocalObjectStore(tmp_path)
    assert TeamDirectory.read(store) is None  # no export yet
    for body in (b"{not json", b'{"by_alias": {}}', b"[]"):
        store.put_bytes(TEAM_DIRECTORY_KEY, body)
        assert TeamDirectory.read(store) is None, body
    TeamDirectory({"arsenal": 1}, {1: "Arsenal"}).write(store)
    assert TeamDirectory.read(store) == TeamDirectory({"arsenal": 1}, {1: "Arsenal"})
