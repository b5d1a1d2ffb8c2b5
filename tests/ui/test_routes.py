"""The routes the web app needs (teams, fixtures, model card) against the real `t2b up`, and their
documented failures: 404/422 with a message, 503 with Retry-After when a dependency is down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from functions.fixtures import main as fixtures_function
from functions.model_card import main as model_card_function
from tests.prepared import PreparedData


def get(api_url: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{api_url}{path}", params=params, timeout=60)


def test_teams_of_a_league_with_search(api_url: str) -> None:
    everyone = get(api_url, "/teams", league="E0").json()
    assert everyone["teams"], everyone
    assert {t["league"] for t in everyone["teams"]} == {"E0"}
    assert {t["season"] for t in everyone["teams"]} == {"2021-2022"}  # the league's latest season
    assert len(everyone["teams"]) == 20
    names = [t["name"] for t in everyone["teams"]]
    assert names == sorted(names)
    searched = get(api_url, "/teams", league="e0", q="MAN").json()
    assert [t["name"] for t in searched["teams"]] == ["Man City", "Man United"]
    leagues = {t["league"] for t in get(api_url, "/teams").json()["teams"]}
    assert leagues == {"E0", "SP1"}


def test_teams_bad_input(api_url: str) -> None:
    unknown = get(api_url, "/teams", league="XX")
    assert unknown.status_code == 422
    assert "unknown league code 'XX'" in unknown.json()["detail"]
    missing = get(api_url, "/teams", league="E0", season="1999-2000")
    assert missing.status_code == 404
    assert "available seasons: 2017-2018" in missing.json()["detail"]
    assert get(api_url, "/teams", season="2021").status_code == 422


def test_fixtures_by_league_and_dates(api_url: str) -> None:
    page = get(api_url, "/fixtures", league="E0", date_from="2022-01-01", date_to="2022-01-15").json()
    assert page["total"] == len(page["fixtures"]) > 0
    kickoffs = [datetime.fromisoformat(f["kickoff"]) for f in page["fixtures"]]
    assert kickoffs == sorted(kickoffs)
    assert all("2022-01-01" <= k.date().isoformat() <= "2022-01-15" for k in kickoffs)
    for fixture in page["fixtures"]:
        assert fixture["league"] == "E0"
        assert sum(fixture["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert fixture["model"]["version"] == "1"
    whole = get(api_url, "/fixtures").json()
    assert whole["total"] > page["total"]
    assert {f["league"] for f in whole["fixtures"]} == {"E0", "SP1"}
    assert len(get(api_url, "/fixtures", limit=3).json()["fixtures"]) == 3


def test_fixtures_bad_input(api_url: str) -> None:
    backwards = get(api_url, "/fixtures", date_from="2022-02-01", date_to="2022-01-01")
    assert backwards.status_code == 422
    assert backwards.json()["detail"] == "date_from 2022-02-01 is after date_to 2022-01-01"
    assert get(api_url, "/fixtures", league="ZZ").status_code == 422
    assert "date_from" in get(api_url, "/fixtures", date_from="soon").json()["detail"]


def test_model_card_and_plots(api_url: str) -> None:
    card = get(api_url, "/model/card").json()
    assert card["champion"]["version"] == "1"
    assert card["challenger"]["version"] == "1"  # the demo's only version carries both aliases
    assert card["test_seasons"] == "2021-2022"
    assert card["test_matches"] > 0
    pooled = {row["forecaster"]: row for row in card["scores"] if row["league"] == "all"}
    assert {"model", "market (closing)", "market (pre-kickoff)", "elo baseline"} <= set(pooled)
    assert card["gap_to_market_rps"] == pytest.approx(pooled["model"]["rps"] - pooled["market (closing)"]["rps"])
    assert {row["league"] for row in card["scores"]} == {"all", "E0", "SP1"}
    plot = httpx.get(f"{api_url}{card['plots'][0]}", timeout=60)
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG")
    unknown = get(api_url, "/model/card/plots/roc")
    assert unknown.status_code == 422
    assert "'calibration'" in unknown.json()["detail"]


# Both routes in a fresh interpreter, then the heavy modules it holds: the card must not keep mlflow (~150 MB)
# or the training stack (~190 MB) resident for good (issue #19: every HTTP function within 100 MB).
CARD_IN_A_FRESH_PROCESS = """
import json, sys
from fastapi.testclient import TestClient
from functions.model_card.main import app
with TestClient(app) as client:
    answers = [client.get(path).status_code for path in ("/model/card", "/model/card/plots/calibration")]
print(json.dumps({"answers": answers, "loaded": [m for m in ("mlflow", "lightgbm", "pandas") if m in sys.modules]}))
"""


def test_model_card_serves_without_importing_mlflow_or_the_training_stack(prepared_data: PreparedData) -> None:
    assert prepared_data.run_fresh(CARD_IN_A_FRESH_PROCESS) == {"answers": [200, 200], "loaded": []}


def test_fixtures_without_a_batch_is_503(configure: Callable[..., None], client_for) -> None:
    configure()  # an empty data directory: nothing was scored
    response = client_for(fixtures_function.app).get("/fixtures")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    assert "no batch predictions yet" in response.json()["detail"]


def test_model_card_with_mlflow_down_is_503(configure: Callable[..., None], closed_url: str, client_for) -> None:
    configure(MLFLOW_TRACKING_URI=closed_url)
    client = client_for(model_card_function.app)
    card, plot = client.get("/model/card"), client.get("/model/card/plots/calibration")
    for response in (card, plot):
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert "unreachable" in response.json()["detail"]
