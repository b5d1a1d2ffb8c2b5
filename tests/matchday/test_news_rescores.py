"""Match-day news reaches GET /predict/{match_id}: on a preview.updated for a match in the batch,
batch-score really re-scores the match (the session's champion, no stub), so prediction-lookup serves
the new row with the time its inputs were fetched. A model.promoted re-scores the batch the same way.

The store is a copy of the main job's data directory (its champion, export and team state), with one
fixture added for today; the preview is the page the scraper's tests parse, stored by the tick's own write.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pyarrow.parquet as pq
import pytest
from cloudevents.http import CloudEvent
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from functions.prediction_lookup.main import app as prediction_lookup_app
from shared.clock import utcnow
from shared.competitions import season_of
from shared.db.models import Competition, Match, MatchStatus, Season, Team
from shared.events.contract import (
    MODEL_PROMOTED,
    SCORING_REQUESTED,
    ModelPromoted,
    ScoringRequested,
    make_event,
    parse_event,
)
from shared.matchday.outbox import publish_pending
from shared.matchday.windows import DueMatch
from shared.matchday.writes import record_preview
from shared.scraping.parsers import parse_preview
from shared.services import Services
from shared.serving.batch_lookup import LATEST_POINTER
from shared.tasks.batch import handle_scoring_event
from shared.tasks.cache_ops import EVENT_TYPES as CACHE_OPS_EVENTS
from tests.matchday.fake_site import PREVIEW_MATCH_ID, PREVIEW_PAGE
from tests.prepared import PreparedData

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def add_fixture_today(engine: Engine, now: datetime) -> int:
    """A Premier League match kicking off in 3 h between two of the store's E0 teams, in a season of its
    own (a pairing plays once per season, and the demo's seasons are complete)."""
    with Session(engine) as session, session.begin():
        premier = session.scalars(select(Competition).where(Competition.code == "E0")).one()
        home, away = session.scalars(
            select(Team).join(Match, Match.home_team_id == Team.id).distinct().order_by(Team.name).limit(2)
        ).all()
        season_name = season_of(now.date())
        season = Season(competition=premier, name=season_name, start_year=int(season_name[:4]))
        match = Match(
            season=season,
            home_team=home,
            away_team=away,
            kickoff_utc=now + timedelta(hours=3),
            status=MatchStatus.scheduled,
            updated_at=now,
        )
        session.add(match)
        session.flush()
        return match.id


def batch_row(services: Services, match_id: int) -> dict:
    pointer = json.loads(services.store.get_bytes(LATEST_POINTER))
    table = pq.read_table(io.BytesIO(services.store.get_bytes(pointer["key"])))
    [row] = [row for row in table.to_pylist() if row["match_id"] == match_id]
    return row


def test_preview_news_and_a_promotion_rescore_the_match(
    writable_data: PreparedData,
    configure: Callable[..., None],
    make_services: Callable[[], Services],
    client_for: Callable[..., TestClient],
    redis_url: str,
    redis_prefix: str,
) -> None:
    configure(
        T2B_DATA_DIR=str(writable_data.data_dir),
        T2B_MODEL_NAME=writable_data.model_name,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_prefix,
        MODEL_REFRESH_INTERVAL="0",  # prediction-lookup re-reads the batch pointer on every request
    )
    services = make_services()
    now = utcnow().replace(microsecond=0)
    match_id = add_fixture_today(services.engine, now)

    # The morning batch (scoring.requested for today) scores the new fixture, before any match-day read.
    morning = make_event(SCORING_REQUESTED, ScoringRequested(day=now.date(), leagues=["E0"]), source="/t")
    assert handle_scoring_event(parse_event(morning), services) == "scored"
    before = batch_row(services, match_id)
    assert before["inputs_fetched_at"] is None
    lookup = client_for(prediction_lookup_app, services=services)
    served = lookup.get(f"/predict/{match_id}")
    assert served.status_code == 200, served.text
    assert served.json()["inputs_fetched_at"] is None

    # The tick reads the match's preview after the batch was written and announces the new version.
    fetched_at = utcnow()
    assert fetched_at > datetime.fromisoformat(json.loads(services.store.get_bytes(LATEST_POINTER))["written_at"])
    due = DueMatch(
        match_id, PREVIEW_MATCH_ID, "E0", season_of(now.date()), now + timedelta(hours=3), MatchStatus.scheduled, None
    )
    with Session(services.engine) as session, session.begin():
        changed, _ = record_preview(session, due, parse_preview(PREVIEW_PAGE), fetched_at)
    assert changed == ["formations", "lineups", "missing"]
    published: list[CloudEvent] = []
    assert publish_pending(services.engine, published.append, fetched_at) == 1
    [news] = [parse_event(event) for event in published]
    assert news.type == "io.time2bet.preview.updated" and news.data.match_id == match_id

    # What the Triggers deliver it to: batch-score. Not cache-ops: no cache holds answers by match (POST
    # /predict's are keyed by model version and features, in each process).
    assert news.type not in CACHE_OPS_EVENTS
    assert handle_scoring_event(news, services) == "rescored"

    after = batch_row(services, match_id)
    assert after["scored_at"] > before["scored_at"]
    assert after["inputs_fetched_at"] == fetched_at
    served = lookup.get(f"/predict/{match_id}")
    assert served.status_code == 200, served.text
    body = served.json()
    assert body["inputs_fetched_at"] is not None, "prediction-lookup kept serving the batch loaded before"
    assert datetime.fromisoformat(body["inputs_fetched_at"]) == fetched_at
    assert body["probabilities"] == pytest.approx(
        {"home": after["p_home"], "draw": after["p_draw"], "away": after["p_away"]}
    )

    # Delivered again (the Trigger retries, a second preview in the same tick): the batch is fresh now.
    assert handle_scoring_event(news, services) == "fresh"

    # A promotion announced after that batch: re-scored by the champion the alias now names; once.
    promoted = parse_event(
        make_event(MODEL_PROMOTED, ModelPromoted(model_name=writable_data.model_name, version="1"), source="/t")
    )
    assert handle_scoring_event(promoted, services) == "rescored"
    assert batch_row(services, match_id)["scored_at"] > after["scored_at"]
    assert handle_scoring_event(promoted, services) == "fresh"
    challenger = ModelPromoted(model_name=writable_data.model_name, version="1", alias="challenger")
    assert handle_scoring_event(parse_event(make_event(MODEL_PROMOTED, challenger, source="/t")), services) == "skipped"
