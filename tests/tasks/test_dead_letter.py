"""dead-letter as its own process: stores each failed event once, with why it failed."""

from __future__ import annotations

import uuid

import httpx
from cloudevents.http import CloudEvent
from sqlalchemy import select

from shared.db.models import DeadLetter
from shared.db.session import engine_for, transaction
from shared.events.contract import make_event
from shared.events.delivery import encode_error_data
from shared.tasks.dead_letter import letter_from_event, store_letter
from tests.tasks.conftest import post_event

REASON = "RuntimeError: redis exploded\n  while caching «Málaga v Alavés»\n"  # multi-line, non-ASCII
FAILURE = {
    "knativeerrorcode": "500",
    "knativeerrordata": encode_error_data(REASON),  # base64, as Knative sends it
    "knativeerrordest": "cache-ops",
    "t2battempts": "4",
    "t2btrigger": "cache-ops-on-matches-ingested",
}


def _letters(pg_url: str) -> list[DeadLetter]:
    with transaction(engine_for(pg_url)) as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_dead_letters_are_stored_once_in_both_modes(pg_url, redis_url, redis_prefix, start_function) -> None:
    url = start_function(
        "dead_letter", {"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix}
    )
    failed = make_event(
        "io.time2bet.matches.ingested", {"league": "E0", "season": "2020-2021"}, source="/test", extensions=FAILURE
    )
    # a poison event (data the subscriber rejected) is stored too: the sink never validates data
    poison = CloudEvent(
        {
            "id": str(uuid.uuid4()),
            "type": "io.time2bet.prediction.completed",
            "source": "/test",
            "datacontenttype": "application/json",
            "knativeerrorcode": "400",
            "knativeerrordata": "invalid data: home_win + draw + away_win must be 1",
            "t2battempts": "1",
            "t2btrigger": "cache-ops-on-prediction-completed",
        },
        {"job_id": "j1", "home_win": 0.9, "draw": 0.9, "away_win": 0.9},
    )

    assert post_event(url, failed, "binary").status_code == 200
    assert post_event(url, failed, "structured").status_code == 200  # redelivered: one row
    assert post_event(url, poison, "structured").status_code == 200

    first, second = _letters(pg_url)
    assert (first.event_id, first.event_source, first.event_type) == (failed["id"], "/test", failed["type"])
    assert (first.error_code, first.error_data, first.error_dest) == (500, REASON, "cache-ops")
    assert (first.attempts, first.trigger) == (4, "cache-ops-on-matches-ingested")
    assert first.event["data"] == {
        "league": "E0",
        "season": "2020-2021",
        "match_ids": [],
        "inserted": 0,
        "updated": 0,
        "run_id": None,
    }
    assert first.event["t2btrigger"] == "cache-ops-on-matches-ingested"
    assert first.received_at.tzinfo is not None
    assert (second.event_id, second.error_code, second.error_dest) == (poison["id"], 400, None)
    assert second.event["data"]["home_win"] == 0.9

    metrics = httpx.get(url + "/metrics", timeout=5).text
    assert 't2b_dead_letters_stored_total{code="500",type="io.time2bet.matches.ingested"} 1.0' in metrics
    assert 'outcome="duplicate",type="io.time2bet.matches.ingested"} 1.0' in metrics


def test_not_a_cloudevent_is_refused_with_400(sqlite_url, start_function) -> None:
    url = start_function("dead_letter", {"DATABASE_URL": sqlite_url, "REDIS_URL": ""})
    response = httpx.post(url + "/", json={"hello": "world"}, timeout=10)
    assert response.status_code == 400
    assert "CloudEvent" in response.text


def test_a_letter_already_stored_is_a_duplicate(pg_url) -> None:
    """The database keeps one row per source + id even when the dedupe memory is gone (a new process)."""
    event = make_event("io.time2bet.cache.invalidate", {"scope": "all"}, source="/test", extensions=FAILURE)
    engine = engine_for(pg_url)
    assert store_letter(letter_from_event(event), engine) is True
    assert store_letter(letter_from_event(event), engine) is False
    assert len(_letters(pg_url)) == 1
