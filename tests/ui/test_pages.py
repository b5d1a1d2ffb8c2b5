"""Every page of the web app through Streamlit's AppTest, against the real `t2b up` of conftest.py.

The pages reach the functions over HTTP exactly as in a browser; nothing is mocked. The failure
cases point the app at a port where nothing listens, or at a real function answering 503.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from streamlit.testing.v1 import AppTest

from tests.services import REPO, free_port, wait_for_port

VIEWS = REPO / "ui" / "views"
TIMEOUT_S = 90  # a cold predict loads the champion from the registry


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, api_url: str) -> Callable[..., AppTest]:
    def load(name: str, url: str = api_url) -> AppTest:
        monkeypatch.setenv("T2B_API_URL", url)
        app = AppTest.from_file(str(VIEWS / f"{name}.py"), default_timeout=TIMEOUT_S)
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return load


def texts(elements: object) -> list[str]:
    return [element.value for element in elements]  # type: ignore[attr-defined]


def test_predict_with_odds_shows_the_market_beside_the_model(page: Callable[..., AppTest]) -> None:
    app = page("predict")
    assert app.selectbox(key="predict_league").options == ["E0 · Premier League", "SP1 · La Liga"]
    assert "Man United" in app.selectbox(key="home").options
    app.selectbox(key="home").select("Man United")
    app.selectbox(key="away").select("Liverpool")
    app.number_input(key="odds_home").set_value(3.2)
    app.number_input(key="odds_draw").set_value(3.6)
    app.number_input(key="odds_away").set_value(2.2)
    app.button[0].click().run()
    assert not app.exception and not app.error, texts(app.error)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Model version"] == "v1"
    assert metrics["Answer"] in ("computed", "cached")
    table = app.dataframe[0].value
    assert list(table["outcome"]) == ["home", "draw", "away"]
    assert table["model"].sum() == pytest.approx(1.0, abs=1e-6)
    assert table["market"].sum() == pytest.approx(1.0, abs=1e-9)
    assert list(table["fair_odds"]) == pytest.approx(list(1 / table["model"]))
    assert list(table["edge"]) == pytest.approx(list(table["model"] - table["market"]))
    assert any("Bookmaker margin 4.5%" in caption for caption in texts(app.caption))


def test_predict_without_odds_then_the_same_again_is_cached(page: Callable[..., AppTest]) -> None:
    app = page("predict")
    app.selectbox(key="predict_league").select("SP1")
    app.run()
    app.selectbox(key="home").select("Barcelona")
    app.selectbox(key="away").select("Real Madrid")
    app.button[0].click().run()
    assert [m.value for m in app.metric if m.label == "Answer"] in (["computed"], ["cached"])  # a reused runtime
    assert "market" not in app.dataframe[0].value.columns
    app.button[0].click().run()
    assert [m.value for m in app.metric if m.label == "Answer"] == ["cached"]


def test_predict_checks_the_form_before_calling(page: Callable[..., AppTest]) -> None:
    app = page("predict")
    app.button[0].click().run()
    assert texts(app.error) == ["Pick a home and an away team."]
    app.selectbox(key="home").select("Arsenal")
    app.selectbox(key="away").select("Chelsea")
    app.number_input(key="odds_home").set_value(2.0)
    app.button[0].click().run()
    assert texts(app.error) == ["Give all three prices, or none."]
    assert not app.metric


def test_an_unknown_team_shows_the_functions_suggestions(monkeypatch: pytest.MonkeyPatch, api_url: str) -> None:
    monkeypatch.setenv("T2B_API_URL", api_url)
    script = """
from datetime import UTC, datetime
from ui.api import MatchRequest
from ui.components import api, attempt
attempt(lambda: api().predict(MatchRequest("Man Untied", "Liverpool", datetime(2022, 4, 19, 19, tzinfo=UTC))))
"""
    app = AppTest.from_string(script, default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert texts(app.error) == ["Check the input: unknown team 'Man Untied'; did you mean 'Man United', 'Man City'?"]


def test_fixtures_filter_sort_and_csv(page: Callable[..., AppTest]) -> None:
    app = page("fixtures")
    everything = app.dataframe[0].value
    assert set(everything["league"]) == {"E0", "SP1"}
    assert list(everything["kickoff"]) == sorted(everything["kickoff"])
    app.selectbox(key="fixtures_league").select("E0")
    app.text_input(key="team_filter").input("arsenal")
    app.selectbox(key="sort").select("home win")
    app.run()
    chosen = app.dataframe[0].value
    assert 0 < len(chosen) < len(everything)
    assert set(chosen["league"]) == {"E0"}
    assert all("Arsenal" in (h, a) for h, a in zip(chosen["home_team"], chosen["away_team"], strict=True))
    assert list(chosen["p_home"]) == sorted(chosen["p_home"], reverse=True)
    assert app.get("download_button"), "no CSV download"


def test_async_batch_runs_every_match_to_a_result(page: Callable[..., AppTest]) -> None:
    app = page("batch")
    app.text_area(key="matches").input(
        "home_team,away_team,kickoff,league\n"
        "Arsenal,Chelsea,2022-05-01T15:00,E0\n"
        "Valencia,Sevilla,2022-05-02\n"
        "not a match line\n"
    )
    app.button[0].click().run()
    assert not app.exception
    assert texts(app.warning) == ["line 4: expected `home, away, kick-off[, league]`, got 'not a match line'"]
    results = app.dataframe[0].value
    assert list(results["status"]) == ["finished", "finished"], results.to_dict("records")
    assert (results[["p_home", "p_draw", "p_away"]].sum(axis=1) - 1).abs().max() < 1e-6
    assert app.get("progress")[0].proto.value == 100


def test_tables_show_standings_with_form(page: Callable[..., AppTest]) -> None:
    app = page("tables")
    assert len(app.dataframe) == 2  # every league's latest season
    app.selectbox(key="tables_league").select("E0")
    app.slider(key="form").set_value(3)
    app.run()
    assert texts(app.subheader) == ["Premier League (E0) · 2021-2022"]
    table = app.dataframe[0].value
    assert len(table) == 20 and list(table["position"]) == list(range(1, 21))
    assert table["form"].str.fullmatch(r"[WDL]{3}").all()


def test_model_page_shows_versions_evaluation_and_plots(page: Callable[..., AppTest]) -> None:
    app = page("model")
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Champion"] == "v1" and metrics["Challenger"] == "v1"
    assert metrics["RPS gap to closing line"].startswith(("+", "-"))
    pooled = app.dataframe[1].value
    assert {"model", "market (closing)", "market (pre-kickoff)", "elo baseline"} <= set(pooled["forecaster"])
    assert "RPS by league (lower is better)" in texts(app.subheader)
    assert app.get("image"), "no calibration plot"
    assert "Live quality: settled matches against the pre-kickoff market" in texts(app.subheader)
    assert not app.warning and not app.error


def test_status_page_shows_readiness_sources_and_live_scores(page: Callable[..., AppTest]) -> None:
    app = page("status")
    assert texts(app.subheader)[0] == "Ready"
    readiness = app.dataframe[0].value
    assert {"store", "mlflow"} <= set(readiness["dependency"])
    sources = app.dataframe[1].value
    assert "football-data" in set(sources["source"])
    assert "Pipelines: last runs" in texts(app.subheader)
    assert any("No match live" in text for text in texts(app.info))  # the demo's season ended in 2022


def test_navigation_opens_predict_first(
    page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch, api_url: str
) -> None:
    monkeypatch.setenv("T2B_API_URL", api_url)
    app = AppTest.from_file(str(REPO / "ui" / "app.py"), default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert texts(app.title) == ["Predict a match"]


@pytest.mark.parametrize("name", ["predict", "fixtures", "batch", "tables", "model", "status"])
def test_every_page_explains_an_unreachable_api(page: Callable[..., AppTest], closed_url: str, name: str) -> None:
    app = page(name, closed_url)
    if name == "batch":  # asks nothing until a list is submitted
        app.text_area(key="matches").input("Arsenal,Chelsea,2022-05-01")
        app.button[0].click().run()
    assert not app.exception
    assert any("cannot be reached" in warning and "t2b up" in warning for warning in texts(app.warning))


@pytest.fixture
def fixtures_without_a_batch(configure: Callable[..., None]) -> Iterator[str]:
    """The real fixtures function over HTTP on an empty data directory: it answers 503."""
    from functions.fixtures import main as fixtures_function

    configure()  # the app's lifespan builds its services from this environment
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fixtures_function.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, None, timeout=20)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_503_shows_when_to_retry(monkeypatch: pytest.MonkeyPatch, fixtures_without_a_batch: str) -> None:
    monkeypatch.setenv("T2B_API_URL", fixtures_without_a_batch)
    script = "from ui.components import api, attempt\nattempt(lambda: api().fixtures(None, None, None))\n"
    app = AppTest.from_string(script, default_timeout=TIMEOUT_S).run()
    assert not app.exception
    assert texts(app.warning) == ["Temporarily unavailable: no batch predictions yet: run `t2b score`. Retry in 60 s."]
