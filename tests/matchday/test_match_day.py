"""A match day end to end: the tick through a real headless Chromium on a remote WebDriver (a local
chromedriver), PostgreSQL, Redis and the object store, GET /livescores in process, and the events'
consumers (cache-ops, batch-score) called with what the tick published.

Only WhoScored is mocked (tests/matchday/fake_site.py serves its pages on a local port).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from cloudevents.http import CloudEvent
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from functions.livescores.main import app as livescores_app
from shared.db.models import Match, MatchLiveSnapshot, MatchPreviewFetch, MatchStatus
from shared.events.contract import parse_event
from shared.matchday.history import read_history
from shared.matchday.tick import TickReport, run_tick
from shared.scraping.driver import remote_browser_factory
from shared.services import Services
from shared.serving.batch_lookup import LATEST_POINTER
from shared.tasks.batch import handle_scoring_event
from shared.tasks.cache_ops import EVENT_TYPES as CACHE_OPS_EVENTS
from shared.tasks.cache_ops import TEAM_STATE, handle_cache_event
from tests.matchday.conftest import LIVE_MATCH_ID, MatchDay, add_match_day
from tests.matchday.fake_site import FULL_TIME, HALF_TIME, PREVIEW_MATCH_ID, MatchDaySite
from tests.scraping.conftest import FAST_SCRAPER_ENV

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]

LIVE_PAGE = f"/Matches/{LIVE_MATCH_ID}/Live"
PREVIEW_PAGE = f"/Matches/{PREVIEW_MATCH_ID}/Preview"


@pytest.fixture
def services(
    configure: Callable[..., None],
    pg_url: str,
    chromedriver_url: str,
    fake_matchday: tuple[MatchDaySite, str],
    redis_url: str,
    redis_prefix: str,
) -> Iterator[Services]:
    _, base_url = fake_matchday
    configure(
        DATABASE_URL=pg_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=redis_prefix,
        SELENOID_URL=chromedriver_url,
        WHOSCORED_BASE_URL=base_url,
        **FAST_SCRAPER_ENV,
    )
    with Services.from_environment() as built:
        yield built


class Ticks:
    """Runs ticks at chosen times and keeps what they published."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.published: list[CloudEvent] = []

    def __call__(self, at: datetime) -> TickReport:
        s = self.services
        return run_tick(s.engine, s.store, s.settings, at, remote_browser_factory, self.published.append)

    def since(self, count: int) -> list[tuple[str, int, list[str]]]:
        return [(e["type"], e.get_data()["match_id"], e.get_data()["changed"]) for e in self.published[count:]]


def livescore(client: TestClient, league: str = "E0") -> tuple[dict, str]:
    response = client.get("/livescores", params={"league": league})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "public, max-age=15"
    [match] = response.json()["matches"]
    return match, response.headers["etag"]


def shown(match: dict) -> tuple:
    return (
        match["status"],
        match["minute"],
        match["home_goals"],
        match["away_goals"],
        match["home_red_cards"],
        match["away_red_cards"],
    )


def consume(services: Services, events: list[CloudEvent]) -> None:
    """What the Triggers deliver each announced change to: cache-ops (when it subscribes), then batch-score."""
    for event in events:
        envelope = parse_event(event)
        if envelope.type in CACHE_OPS_EVENTS:
            assert handle_cache_event(envelope, services) == "invalidated"
        assert handle_scoring_event(envelope, services) == "fresh"  # see the batch pointer written below


LIVESCORES = "livescores"  # the cache cache-ops drops on every match update


def cached(services: Services, name: str) -> bool:
    return services.cache.get_json(name, "key") is not None


def test_a_match_day(services: Services, fake_matchday: tuple[MatchDaySite, str], now: datetime) -> None:
    site, _ = fake_matchday
    day: MatchDay = add_match_day(services.engine, now)
    tick = Ticks(services)
    for name in (LIVESCORES, TEAM_STATE):
        services.cache.set_json(name, "key", [0.5, 0.3, 0.2], 3600)
    # A batch newer than every read below: batch-score finds it fresh and leaves it (a real re-score
    # needs a champion model in MLflow; this test checks who is told, not the scoring itself).
    later = (now + timedelta(days=30)).isoformat()
    services.store.put_bytes(LATEST_POINTER, json.dumps({"key": "k", "rows": 0, "written_at": later}).encode())

    with TestClient(livescores_app) as client:
        # Kick-off + 10': the live match and the next 24 h's preview (another league), nothing else.
        first = tick(now)
        assert site.requests == [LIVE_PAGE, PREVIEW_PAGE]
        assert (first.outcome, first.page_loads, first.browser_sessions) == ("done", 2, 1)
        assert tick.since(0) == [
            ("io.time2bet.match.updated", day.live, ["status", "score"]),
            ("io.time2bet.preview.updated", day.preview, ["formations", "lineups", "missing"]),
        ]
        match, etag = livescore(client)
        assert shown(match) == ("live", "10", 1, 0, 0, 0)
        assert match["last_update"] is not None and match["update_age_seconds"] >= 0
        assert client.get("/livescores", params={"league": "E0"}, headers={"If-None-Match": etag}).status_code == 304
        assert client.get("/livescores", params={"league": "SP1"}).json()["matches"] == []  # the filter

        consume(services, tick.published)
        assert not cached(services, LIVESCORES) and cached(services, TEAM_STATE)  # no result yet
        services.cache.set_json(LIVESCORES, "key", [0.5, 0.3, 0.2], 3600)

        # Half time, 40' later: an equaliser and a red card; the preview, read 40' ago, is not due.
        site.moment, site.preview_version = HALF_TIME, 2
        second = tick(now + timedelta(minutes=40))
        assert site.requests[2:] == [LIVE_PAGE] and second.published == 1
        assert tick.since(2) == [("io.time2bet.match.updated", day.live, ["score", "red_cards"])]
        match, half_time_etag = livescore(client)
        assert shown(match) == ("live", "HT", 1, 1, 0, 1)
        assert (match["half_time_home_goals"], match["half_time_away_goals"]) == (1, 1)
        assert half_time_etag != etag
        consume(services, tick.published[2:])
        assert not cached(services, LIVESCORES)

        # Two minutes on, the same page: read (the update's age restarts), nothing announced or added.
        third = tick(now + timedelta(minutes=42))
        assert site.requests[3:] == [LIVE_PAGE] and third.published == 0 and len(tick.published) == 3

        # Full time, and the preview is due again: its line-up changed since the first read.
        site.moment = FULL_TIME
        assert tick(now + timedelta(minutes=100)).outcome == "done"
        assert site.requests[4:] == [LIVE_PAGE, PREVIEW_PAGE]
        assert tick.since(3) == [
            ("io.time2bet.match.updated", day.live, ["status", "score"]),
            ("io.time2bet.preview.updated", day.preview, ["lineups", "missing"]),
        ]
        match, _ = livescore(client)
        assert shown(match) == ("finished", "FT", 2, 1, 0, 1)
        consume(services, tick.published[3:])
        assert not cached(services, TEAM_STATE)  # a result: every later prediction's state changes

    # A final match is read no more, a preview read a minute ago is not due: no request, no browser.
    assert tick(now + timedelta(minutes=101)).outcome == "idle"
    # Days later nothing is inside any window.
    outside = tick(now + timedelta(days=5))
    assert (outside.outcome, outside.page_loads, outside.browser_sessions, outside.published) == ("idle", 0, 0, 0)
    assert len(site.requests) == 6 and len(tick.published) == 5  # each change announced once

    with Session(services.engine) as session:
        match_row = session.get(Match, day.live)
        assert (match_row.status, match_row.ft_home_goals, match_row.ft_away_goals) == (MatchStatus.finished, 2, 1)
        assert session.scalar(select(func.count()).select_from(MatchLiveSnapshot)) == 3  # 10', HT, FT
        versions = session.scalars(select(MatchPreviewFetch).order_by(MatchPreviewFetch.first_fetched_at)).all()
    assert [(v.first_fetched_at, v.fetch_count) for v in versions] == [
        (now, 1),
        (now + timedelta(minutes=100), 1),
    ]
    assert [p["name"] for p in versions[1].lineups["home"]][-1] == "Lucas Moura"
    assert [p["name"] for p in versions[1].missing["home"]][-1] == "Son Heung-Min"

    # The history for models, in parquet partitioned by the day it was read.
    live = read_history(services.store, "live").to_pylist()
    assert [(r["minute"], r["home_goals"], r["away_goals"], r["status"]) for r in live] == [
        ("10", 1, 0, "live"),
        ("HT", 1, 1, "live"),
        ("FT", 2, 1, "finished"),
    ]
    assert {r["league"] for r in live} == {"E0"} and live[0]["fetched_at"] == now
    previews = read_history(services.store, "previews").to_pylist()
    assert [(r["league"], r["first_fetched_at"], len(r["home_lineup"])) for r in previews] == [
        ("SP1", now, 11),
        ("SP1", now + timedelta(minutes=100), 11),
    ]
    assert previews[1]["home_missing"][-1]["status"] == "Doubtful"
    events_key = f"raw/whoscored/events/league=E0/season=2025-2026/match={LIVE_MATCH_ID}.json"
    assert len(json.loads(services.store.get_bytes(events_key))) == 90  # the full-time event list


def test_a_block_ends_the_tick_after_the_scrapers_retries(
    services: Services, fake_matchday: tuple[MatchDaySite, str], now: datetime
) -> None:
    site, _ = fake_matchday
    site.blocked = True
    add_match_day(services.engine, now)
    tick = Ticks(services)
    report = tick(now)
    assert report.outcome == "blocked" and "Incapsula" in (report.detail or "")
    assert site.pages == [LIVE_PAGE, LIVE_PAGE]  # the first try and one retry; the preview is left
    assert (report.browser_sessions, tick.published) == (2, [])  # a fresh session for the retry
    with Session(services.engine) as session:
        assert session.scalar(select(func.count()).select_from(MatchLiveSnapshot)) == 0
