"""The health, livescores, sources and stats functions against a real PostgreSQL store."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from functions.health.main import app as health_app
from functions.livescores.main import app as livescores_app
from functions.sources.main import app as sources_app
from functions.stats.main import app as stats_app
from shared.clock import utcnow
from shared.db.models import Competition, Match, MatchStatus, Season, Team
from shared.db.session import engine_for
from shared.ingest.football_data import import_file
from shared.ingest.runs import RunBlocked, ingest_run
from shared.queries.readiness import DependencyState, Probe, run_probes
from tests.functions.conftest import PREMIER_LEAGUE_2021_22
from tests.services import free_port, python_bin, start_process, stop_process

pytestmark = pytest.mark.postgres


def unreachable_database_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{free_port()}/nothing-listens"


# --- stats ------------------------------------------------------------------------------------


def test_stats_reproduce_the_final_2021_22_premier_league_table(premier_league: str, client_for) -> None:
    response = client_for(stats_app).get("/stats", params={"league": "e0", "season": "2021-2022", "form": 5})

    assert response.status_code == 200, response.text
    (table,) = response.json()["tables"]
    assert (table["league"], table["league_name"], table["season"]) == ("E0", "Premier League", "2021-2022")
    rows = {row["team"]: row for row in table["standings"]}
    assert [row["team"] for row in table["standings"][:3]] == ["Man City", "Liverpool", "Chelsea"]
    assert (rows["Man City"]["points"], rows["Liverpool"]["points"], rows["Chelsea"]["points"]) == (93, 92, 74)
    city = rows["Man City"]
    assert (city["position"], city["played"], city["won"], city["drawn"], city["lost"]) == (1, 38, 29, 6, 3)
    assert (city["goals_for"], city["goals_against"], city["goal_difference"]) == (99, 26, 73)
    assert city["form"] == "WWWDW"  # Leeds, Newcastle, Wolves, West Ham, Villa
    assert rows["Liverpool"]["form"] == "WDWWW"  # Newcastle, Spurs, Villa, Southampton, Wolves
    last = table["standings"][-1]
    assert (last["team"], last["position"], last["points"]) == ("Norwich", 20, 22)
    assert len(rows) == 20 and all(row["played"] == 38 for row in rows.values())
    assert sum(row["goals_for"] for row in rows.values()) == sum(row["goals_against"] for row in rows.values())


def test_stats_default_to_the_latest_season_and_size_the_form(premier_league: str, client_for) -> None:
    assert import_file(engine_for(premier_league), PREMIER_LEAGUE_2021_22.with_name("2020-2021.csv")).ok
    client = client_for(stats_app)

    latest = client.get("/stats", params={"form": 3}).json()
    earlier = client.get("/stats", params={"league": "E0", "season": "2020-2021"}).json()

    (table,) = latest["tables"]
    assert (table["season"], table["standings"][0]["team"], table["standings"][0]["points"]) == (
        "2021-2022",
        "Man City",
        93,
    )
    assert latest["form_length"] == 3 and all(len(row["form"]) == 3 for row in table["standings"])
    (table,) = earlier["tables"]
    assert (table["season"], table["standings"][0]["team"], table["standings"][0]["points"]) == (
        "2020-2021",
        "Man City",
        86,
    )
    assert all(len(row["form"]) == 5 for row in table["standings"])


def test_stats_say_what_to_fix_for_unknown_leagues_and_seasons(premier_league: str, client_for) -> None:
    client = client_for(stats_app)

    unknown_code = client.get("/stats", params={"league": "XX"})
    assert unknown_code.status_code == 422
    assert "unknown league code 'XX'" in unknown_code.json()["detail"]
    assert all(code in unknown_code.json()["detail"] for code in ("E0", "SP1", "D1"))

    no_data = client.get("/stats", params={"league": "SP1"})
    assert no_data.status_code == 404
    assert no_data.json()["detail"] == "no matches of league SP1 in the store; leagues with data: E0"

    unknown_season = client.get("/stats", params={"league": "E0", "season": "1999-2000"})
    assert unknown_season.status_code == 404
    assert unknown_season.json()["detail"].endswith("available seasons: 2021-2022")

    malformed = client.get("/stats", params={"season": "2021"})
    assert malformed.status_code == 422 and malformed.json()["detail"].startswith("query.season:")


# --- livescores -------------------------------------------------------------------------------


def add_matches(url: str) -> None:
    """A live match, one finished an hour ago, one finished yesterday and one still to come."""
    now = utcnow()
    with Session(engine_for(url)) as session, session.begin():
        league = Competition(code="E0", name="Premier League", country="England")
        season = Season(competition=league, name="2025-2026", start_year=2025)
        arsenal, chelsea, everton, fulham = (
            Team(name=n, country="England") for n in ("Arsenal", "Chelsea", "Everton", "Fulham")
        )

        def match(
            home: Team, away: Team, hours_ago: float, status: MatchStatus, score: tuple[int, int] | None
        ) -> Match:
            goals = score or (None, None)
            return Match(
                season=season,
                home_team=home,
                away_team=away,
                kickoff_utc=now - timedelta(hours=hours_ago),
                status=status,
                ft_home_goals=goals[0],
                ft_away_goals=goals[1],
                updated_at=now,
            )

        session.add_all(
            [
                match(arsenal, chelsea, 1, MatchStatus.live, (1, 0)),
                match(everton, fulham, 1, MatchStatus.finished, (2, 2)),
                match(chelsea, everton, 30, MatchStatus.finished, (0, 3)),
                match(fulham, arsenal, -2, MatchStatus.scheduled, None),
            ]
        )


def test_livescores_show_live_and_recently_finished_matches(store_url: str, client_for) -> None:
    add_matches(store_url)
    client = client_for(livescores_app)

    recent = client.get("/livescores", params={"hours": 3, "league": "E0"})

    assert recent.status_code == 200, recent.text
    matches = recent.json()["matches"]
    assert [(m["status"], m["home_team"], m["away_team"], m["home_goals"], m["away_goals"]) for m in matches] == [
        ("live", "Arsenal", "Chelsea", 1, 0),
        ("finished", "Everton", "Fulham", 2, 2),
    ]
    assert {(m["league"], m["league_name"], m["season"]) for m in matches} == {("E0", "Premier League", "2025-2026")}
    two_days = client.get("/livescores", params={"hours": 48}).json()["matches"]
    assert [m["home_team"] for m in two_days] == ["Arsenal", "Everton", "Chelsea"]
    assert client.get("/livescores", params={"league": "SP1"}).json()["matches"] == []


@pytest.mark.parametrize("hours", ["0", "73", "three"])
def test_livescores_reject_hours_outside_1_to_72(hours: str, store_url: str, client_for) -> None:
    response = client_for(livescores_app).get("/livescores", params={"hours": hours})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.hours:")


# --- sources ----------------------------------------------------------------------------------


def test_sources_report_the_last_good_and_the_last_failed_run(store_url: str, truncated_copy: Path, client_for) -> None:
    engine = engine_for(store_url)
    assert import_file(engine, PREMIER_LEAGUE_2021_22).ok
    assert not import_file(engine, truncated_copy).ok
    with pytest.raises(RunBlocked), ingest_run(engine, "whoscored", "https://www.whoscored.com/Regions/252"):
        raise RunBlocked("challenge page instead of the fixtures")

    response = client_for(sources_app).get("/sources")

    assert response.status_code == 200, response.text
    football_data, whoscored = response.json()["sources"]
    assert (football_data["source"], football_data["runs"]) == ("football-data", 2)
    assert football_data["runs_by_status"] == {"succeeded": 1, "failed": 1}
    success, failure = football_data["last_success"], football_data["last_failure"]
    assert success["target"] == str(PREMIER_LEAGUE_2021_22)
    assert (success["status"], success["rows_added"], success["rows_rejected"], success["error"]) == (
        "succeeded",
        380,
        0,
        None,
    )
    assert (failure["status"], failure["target"], failure["rows_added"]) == ("failed", str(truncated_copy), 0)
    assert failure["rows_rejected"] == 1 and "truncated or malformed row" in failure["error"]
    assert whoscored["last_success"] is None
    assert whoscored["last_failure"]["status"] == "blocked"
    assert whoscored["last_failure"]["error"] == "challenge page instead of the fixtures"


# --- health -----------------------------------------------------------------------------------


def ready(client_for: Callable[..., TestClient]) -> tuple[int, dict]:
    response = client_for(health_app).get("/health/ready")
    return response.status_code, response.json()


def test_liveness_answers_without_any_backend(configure: Callable[..., None], client_for) -> None:
    configure(DATABASE_URL=unreachable_database_url())

    response = client_for(health_app).get("/health")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_while_the_store_answers(
    store_url: str, redis_url: str, mlflow_uri: str, configure: Callable[..., None], client_for
) -> None:
    configure(REDIS_URL=redis_url, MLFLOW_TRACKING_URI=mlflow_uri)

    status, body = ready(client_for)

    assert status == 200 and body["ready"] is True
    states = body["dependencies"]
    assert {name: (s["state"], s["required"]) for name, s in states.items()} == {
        "store": ("ok", True),
        "object_storage": ("ok", False),
        "mlflow": ("no champion yet", False),
        "redis": ("ok", False),
    }


def test_redis_down_is_reported_but_not_fatal(
    store_url: str, mlflow_uri: str, configure: Callable[..., None], client_for
) -> None:
    configure(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", MLFLOW_TRACKING_URI=mlflow_uri)

    status, body = ready(client_for)

    assert status == 200 and body["ready"] is True
    assert body["dependencies"]["redis"]["state"].startswith("down: ConnectionError")


def test_redis_is_optional(store_url: str, mlflow_uri: str, configure: Callable[..., None], client_for) -> None:
    configure(MLFLOW_TRACKING_URI=mlflow_uri)

    assert ready(client_for)[1]["dependencies"]["redis"]["state"] == "not configured"


def test_unready_while_the_store_is_down(mlflow_uri: str, configure: Callable[..., None], client_for) -> None:
    configure(DATABASE_URL=unreachable_database_url(), MLFLOW_TRACKING_URI=mlflow_uri)

    status, body = ready(client_for)

    assert status == 503 and body["ready"] is False
    assert body["dependencies"]["store"]["state"].startswith("down: OperationalError")
    assert body["dependencies"]["object_storage"]["state"] == "ok"


def test_mlflow_reports_whether_a_champion_is_registered(
    store_url: str, mlflow_uri: str, configure: Callable[..., None], client_for
) -> None:
    configure(MLFLOW_TRACKING_URI=mlflow_uri, T2B_MODEL_NAME="time2bet-test-outcome")

    before = ready(client_for)[1]["dependencies"]["mlflow"]
    assert before["state"] == "no champion yet" and "champion_version" not in before

    from mlflow import MlflowClient

    client = MlflowClient(mlflow_uri, mlflow_uri)
    client.create_registered_model("time2bet-test-outcome")
    version = client.create_model_version("time2bet-test-outcome", source=str(Path.cwd()))
    client.set_registered_model_alias("time2bet-test-outcome", "champion", version.version)

    after = ready(client_for)[1]["dependencies"]["mlflow"]
    assert (after["state"], after["champion_version"]) == ("ok", str(version.version))


def test_a_hung_probe_holds_one_thread_and_its_late_answer_is_kept() -> None:
    release, calls = threading.Event(), []

    def hang() -> DependencyState:
        calls.append(1)
        release.wait(5)
        return DependencyState(state="ok")

    probe = Probe("slow", f"test-{time.monotonic_ns()}", 0.05, False, hang)

    first, second = run_probes([probe]), run_probes([probe])
    release.set()
    patient = run_probes([replace(probe, timeout_s=5)])

    assert first.dependencies["slow"].state == second.dependencies["slow"].state == "down: no answer within 0.05 s"
    assert patient.dependencies["slow"].state == "ok"
    assert len(calls) == 1


# --- as processes -----------------------------------------------------------------------------


def test_stats_serve_as_their_own_uvicorn_process(premier_league: str, tmp_path: Path) -> None:
    port = free_port()
    process = start_process(
        [python_bin("uvicorn"), "functions.stats.main:app", "--port", str(port)],
        port,
        tmp_path / "stats.log",
        env={"DATABASE_URL": premier_league},
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            table = client.get("/stats", params={"league": "E0"}).json()["tables"][0]
            docs = client.get("/docs/stats")
            schema = client.get("/openapi/stats.json").json()
    finally:
        stop_process(process)

    assert (table["standings"][0]["team"], table["standings"][0]["points"]) == ("Man City", 93)
    assert docs.status_code == 200
    assert set(schema["paths"]) == {"/stats"}


def test_every_function_answers_on_the_local_server(store_url: str, mlflow_uri: str, tmp_path: Path) -> None:
    port = free_port()
    process = start_process(
        [python_bin("uvicorn"), "--factory", "shared.runtime.functions:create_local_server", "--port", str(port)],
        port,
        tmp_path / "local.log",
        env={"DATABASE_URL": store_url, "MLFLOW_TRACKING_URI": mlflow_uri},
    )
    routes = {"health": "/health", "livescores": "/livescores", "sources": "/sources", "stats": "/stats"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            statuses = {name: client.get(path).status_code for name, path in routes.items()}
            readiness = client.get("/health/ready")
            metrics = client.get("/metrics").text
    finally:
        stop_process(process)

    assert statuses == dict.fromkeys(routes, 200)
    assert readiness.status_code == 200, readiness.text
    served = {
        (sample.labels["function"], sample.labels["route"])
        for family in text_string_to_metric_families(metrics)
        if family.name == "t2b_http_requests"
        for sample in family.samples
        if sample.name == "t2b_http_requests_total" and sample.labels["status"] == "200"
    }
    assert set(routes.items()) <= served
