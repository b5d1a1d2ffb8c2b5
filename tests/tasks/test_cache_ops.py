"""cache-ops as its own process against the real Redis."""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from cloudevents.http import CloudEvent

from shared.events.contract import make_event
from tests.tasks.conftest import post_event

CACHES = ("team_state", "stats", "livescores", "prediction_result")


@pytest.fixture
def cache_ops(redis_url, redis_prefix, start_function):
    url = start_function(
        "cache_ops", {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix, "PREDICTION_CACHE_TTL": "120"}
    )
    return url, redis.Redis.from_url(redis_url), redis_prefix


def _seed(client: redis.Redis, prefix: str) -> None:
    for name in CACHES:
        client.set(f"{prefix}{name}:k1", b"1")
        client.set(f"{prefix}{name}:k2", b"2")


def _left(client: redis.Redis, prefix: str) -> set[str]:
    return {name for name in CACHES if client.exists(f"{prefix}{name}:k1", f"{prefix}{name}:k2") == 2}


def test_invalidations_drop_the_named_caches(cache_ops) -> None:
    url, client, prefix = cache_ops
    _seed(client, prefix)
    client.set("other-prefix:team_state:k1", b"1")  # another deployment's keys are not ours to drop
    try:
        ingested = make_event("io.time2bet.matches.ingested", {"league": "E0", "season": "2020-2021"}, source="/t")
        assert post_event(url, ingested, "binary").status_code == 200
        assert _left(client, prefix) == {"stats", "livescores", "prediction_result"}
        assert client.exists("other-prefix:team_state:k1") == 1

        # the same event again (redelivery) has no second effect
        _seed(client, prefix)
        assert post_event(url, ingested, "structured").status_code == 200
        assert _left(client, prefix) == set(CACHES)

        invalidate = make_event("io.time2bet.cache.invalidate", {"scope": "stats"}, source="/t")
        assert post_event(url, invalidate, "structured").status_code == 200
        assert _left(client, prefix) == {"team_state", "livescores", "prediction_result"}

        everything = make_event("io.time2bet.cache.invalidate", {"scope": "all", "league": "E0"}, source="/t")
        assert post_event(url, everything, "binary").status_code == 200
        assert _left(client, prefix) == {"prediction_result"}  # async results are answers, not derived data
    finally:
        client.delete("other-prefix:team_state:k1")


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_completed_prediction_is_kept_for_its_requester(cache_ops, mode) -> None:
    url, client, prefix = cache_ops
    job = f"job-{uuid.uuid4().hex[:8]}"
    data = {"job_id": job, "model_version": "7", "home_win": 0.5, "draw": 0.3, "away_win": 0.2, "match_id": 42}
    completed = make_event("io.time2bet.prediction.completed", data, source="/infer")
    assert post_event(url, completed, mode).status_code == 200
    key = f"{prefix}prediction_result:{job}"
    assert json.loads(client.get(key)) == data
    assert 0 < client.ttl(key) <= 120


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_bad_event_is_refused_with_400_and_the_reason(cache_ops, mode) -> None:
    url, client, prefix = cache_ops
    bad = CloudEvent(
        {"type": "io.time2bet.prediction.completed", "source": "/infer", "datacontenttype": "application/json"},
        {"job_id": "j", "model_version": "7", "home_win": 0.9, "draw": 0.9, "away_win": 0.9},
    )
    response = post_event(url, bad, mode)
    assert response.status_code == 400
    assert "home_win + draw + away_win must be 1" in response.text
    assert client.exists(f"{prefix}prediction_result:j") == 0

    unknown = CloudEvent({"type": "io.time2bet.nope", "source": "/t"}, {"a": 1})
    response = post_event(url, unknown, mode)
    assert response.status_code == 400
    assert "unknown event type 'io.time2bet.nope'" in response.text
