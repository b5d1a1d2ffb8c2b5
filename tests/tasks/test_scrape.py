"""scrape as its own process; no browser: Selenoid and WhoScored are closed ports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.http import CloudEvent
from sqlalchemy import select

from shared.competitions import season_of
from shared.db.models import IngestRun, RunStatus
from shared.db.session import engine_for, transaction
from shared.events.contract import InvalidEvent, ScrapeRequested, make_event
from shared.events.routing import PING_EVENT_TYPE, load_routing
from shared.scraping.leagues import mapped_codes, whoscored_ids
from shared.tasks.scrape import scrape_request
from tests.services import free_port
from tests.tasks.conftest import post_event


@pytest.fixture
def scrape(pg_url, start_function):
    closed = free_port()  # nothing listens there
    url = start_function(
        "scrape",
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": "",
            "S3_ENDPOINT": "",
            "SELENOID_URL": f"http://127.0.0.1:{closed}/wd/hub",
            "WHOSCORED_BASE_URL": f"http://127.0.0.1:{closed}",
            "SCRAPE_MAX_RETRIES": "0",
        },
    )
    return url, pg_url


def test_an_unreachable_browser_is_a_retryable_503_not_a_traceback(scrape) -> None:
    url, pg_url = scrape
    requested = make_event("io.time2bet.scrape.requested", {"league": "E0", "season": "2020-2021"}, source="/t")
    response = post_event(url, requested, "binary")
    assert response.status_code == 503
    assert "browser or site unreachable" in response.text
    assert "Traceback" not in response.text

    # The daily ping (the manifest's own) stands for a scrape.requested of every configured league and
    # the current season: with the browser away each league fails, so the event is retried.
    [daily] = [ping for ping in load_routing().pingsources if ping.name == "scrape-schedule"]
    response = post_event(url, daily.to_event("t2b"), "structured")
    assert response.status_code == 503
    assert "every configured league failed" in response.text and "browser or site unreachable" in response.text

    with transaction(engine_for(pg_url)) as session:
        runs = list(session.scalars(select(IngestRun).order_by(IngestRun.id)))
    assert [run.status for run in runs] == [RunStatus.failed] * (1 + len(mapped_codes()))
    assert runs[0].target == "region=252 tournament=2 season=2020-2021"
    current = f"season={season_of(datetime.now(UTC).date())}"
    assert [run.target for run in runs[1:]] == [
        f"region={region} tournament={tournament} {current}"
        for region, tournament in (whoscored_ids(code) for code in mapped_codes())
    ]


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_bad_scrape_requests_are_refused_with_400(scrape, mode) -> None:
    url, _ = scrape
    cases = {
        "unknown league code 'XX'": {"league": "XX"},
        "season must look like 2019-2020": {"league": "E0", "season": "2020"},
        "league 'E1' has no WhoScored mapping": {"league": "E1"},
        "source 'football-data' is not scraped here": {"league": "E0", "source": "football-data"},
    }
    for reason, data in cases.items():
        event = CloudEvent({"id": str(uuid.uuid4()), "type": "io.time2bet.scrape.requested", "source": "/t"}, data)
        response = post_event(url, event, mode)
        assert response.status_code == 400, (reason, response.text)
        assert reason in response.text

    ping_without_type = CloudEvent({"type": PING_EVENT_TYPE, "source": "/ping"}, {"league": "E0"})
    response = post_event(url, ping_without_type, mode)
    assert response.status_code == 400
    assert "t2beventtype" in response.text


def test_the_season_defaults_to_the_current_one() -> None:
    assert season_of(datetime(2026, 6, 30, tzinfo=UTC).date()) == "2025-2026"
    assert season_of(datetime(2026, 7, 1, tzinfo=UTC).date()) == "2026-2027"
    request = scrape_request(ScrapeRequested(league="SP1"), "SP1", now=datetime(2021, 1, 5, tzinfo=UTC))
    assert (request.region, request.tournament, request.season) == (206, 4, "2020-2021")
    with pytest.raises(InvalidEvent, match="no WhoScored mapping"):
        scrape_request(ScrapeRequested(league="N1"), "N1")
