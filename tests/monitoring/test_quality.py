"""Live quality on hand-computed cases, on SQLite and PostgreSQL.

Match A, home win 2-1: model (0.5, 0.3, 0.2) -> RPS ((0.5)^2 + (0.2)^2) / 2 = 0.145, log loss -ln 0.5.
  Pinnacle opening 1.9 / 3.8 / 3.8 de-vigs to (0.5, 0.25, 0.25) -> RPS (0.25 + 0.0625) / 2 = 0.15625.
Match B, draw 1-1: model (0.2, 0.5, 0.3) -> RPS (0.04 + 0.09) / 2 = 0.065, log loss -ln 0.5.
  Only Bet365 opening 2.5 / 2.5 / 5.0 -> (0.4, 0.4, 0.2) -> RPS (0.16 + 0.04) / 2 = 0.1, log loss -ln 0.4.
Means over both: model RPS 0.105, market RPS 0.128125; model log loss ln 2, market (ln 2 - ln 0.4) / 2.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import func, select

from shared.cli.app import run
from shared.db.models import PredictionSettlement
from shared.db.session import engine_for, transaction
from shared.monitoring import quality, state
from tests.monitoring.store_rows import KICKOFF, League

BEFORE = KICKOFF - timedelta(hours=2)


@pytest.fixture
def league(db_url: str) -> League:
    return League(engine_for(db_url))


def _two_matches(league: League) -> tuple[int, int]:
    a = league.match(0, 1, goals=(2, 1), opening={"PS": (1.9, 3.8, 3.8), "B365": (3.0, 3.0, 3.0)})
    b = league.match(2, 3, KICKOFF + timedelta(days=1), goals=(1, 1), opening={"B365": (2.5, 2.5, 5.0)})
    return a, b


def test_settles_against_the_pre_kickoff_market_by_hand(league: League) -> None:
    a, b = _two_matches(league)
    league.predict(BEFORE - timedelta(days=1), (0.9, 0.05, 0.05), match_id=a)  # superseded by the later one
    league.predict(BEFORE, (0.5, 0.3, 0.2), match_id=a)
    # named by teams and kick-off, 30 minutes off the stored kick-off: still match B
    league.predict(BEFORE, (0.2, 0.5, 0.3), teams=(2, 3), kickoff=KICKOFF + timedelta(days=1, minutes=30))
    league.predict(KICKOFF + timedelta(minutes=5), (0.1, 0.1, 0.8), match_id=a, version="2")  # after kick-off

    assert quality.settle(league.engine) == 2
    assert quality.settle(league.engine) == 0  # idempotent

    with transaction(league.engine) as session:
        rows = {row.match_id: row for row in session.scalars(select(PredictionSettlement))}
        (version,) = quality.summary(session)
    assert set(rows) == {a, b}
    assert rows[a].outcome == 0 and rows[b].outcome == 1
    assert rows[a].rps == pytest.approx(0.145) and rows[a].market_rps == pytest.approx(0.15625)
    assert rows[a].market_bookmaker == "PS" and rows[b].market_bookmaker == "B365"
    assert rows[b].rps == pytest.approx(0.065) and rows[b].market_rps == pytest.approx(0.1)
    assert rows[b].market_log_loss == pytest.approx(-math.log(0.4))
    assert (version.model_version, version.matches, version.with_market) == ("1", 2, 2)
    assert version.rps == pytest.approx(0.105)
    assert version.market_rps == pytest.approx(0.128125)
    assert version.log_loss == pytest.approx(math.log(2))
    assert version.market_log_loss == pytest.approx((math.log(2) - math.log(0.4)) / 2)
    assert version.rps_gap == pytest.approx(0.105 - 0.128125)


def test_window_unfinished_matches_and_unpriced_matches(league: League) -> None:
    a, b = _two_matches(league)
    unpriced = league.match(4, 5, KICKOFF + timedelta(days=2), goals=(0, 3))
    pending = league.match(6, 7, KICKOFF + timedelta(days=3))
    for match_id in (a, b, unpriced, pending):
        league.predict(BEFORE, (0.2, 0.5, 0.3), match_id=match_id)

    assert quality.settle(league.engine) == 3  # the scheduled match waits for its result
    with transaction(league.engine) as session:
        (latest_two,) = quality.summary(session, window=2)
        assert session.scalar(select(func.count()).select_from(PredictionSettlement)) == 3
    # the last two by kick-off: B (priced) and the unpriced one; only B is compared
    assert (latest_two.matches, latest_two.with_market) == (2, 1)
    assert latest_two.rps == pytest.approx(0.065) and latest_two.market_rps == pytest.approx(0.1)


def test_the_scheduled_job_settles_and_the_route_and_metrics_read(
    league: League, configure, db_url: str, client_for
) -> None:
    """Neither GET /monitoring/quality nor a /metrics scrape settles (settling scans the whole log):
    they read what `t2b predictions settle`, the live-quality CronWorkflow's step, settled."""
    configure(DATABASE_URL=db_url)
    a, b = _two_matches(league)
    league.predict(BEFORE, (0.5, 0.3, 0.2), match_id=a, version="7")
    league.predict(BEFORE, (0.2, 0.5, 0.3), match_id=b, version="7")

    from functions.quality.main import app

    client = client_for(app)
    registry = CollectorRegistry()
    registry.register(state.CachedCollector({"live quality": state.live_quality_families}, max_age_s=0))
    assert client.get("/monitoring/quality").json() == {"window": quality.WINDOW_MATCHES, "versions": []}
    assert "t2b_live_settled_matches{" not in generate_latest(registry).decode()
    assert _settlements(league) == 0

    assert run(["predictions", "settle"]) == 0
    assert _settlements(league) == 2
    assert run(["predictions", "settle"]) == 0  # idempotent
    assert _settlements(league) == 2

    text = generate_latest(registry).decode()
    assert 't2b_live_rps{forecaster="model",model_version="7"} 0.105' in text
    assert 't2b_live_rps{forecaster="market",model_version="7"} 0.128125' in text
    assert 't2b_live_settled_matches{model_version="7"} 2.0' in text
    body = client.get("/monitoring/quality").json()
    assert body["window"] == quality.WINDOW_MATCHES
    (version,) = body["versions"]
    assert version["model_version"] == "7" and version["rps_gap"] == pytest.approx(0.105 - 0.128125)
    invalid = client.get("/monitoring/quality", params={"window": 0})
    assert invalid.status_code == 422 and "window" in invalid.json()["detail"]


def _settlements(league: League) -> int:
    with transaction(league.engine) as session:
        return session.scalar(select(func.count()).select_from(PredictionSettlement)) or 0
