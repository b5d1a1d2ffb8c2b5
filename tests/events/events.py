"""One valid event of every contract type, shared by the event tests and the benchmark."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from shared.events.contract import make_event

SOURCE = "/tests/events"

VALID_DATA: dict[str, dict] = {
    "io.time2bet.scrape.requested": {"league": "E0", "season": "2021-2022"},
    "io.time2bet.matches.ingested": {"league": "E0", "season": "2021-2022", "match_ids": [1, 2], "inserted": 2},
    "io.time2bet.cache.invalidate": {"scope": "livescores", "league": "D1", "reason": "test"},
    "io.time2bet.prediction.requested": {
        "job_id": "j1",
        "request": {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2022-04-19T19:00:00Z"},
    },
    "io.time2bet.prediction.completed": {
        "job_id": "j1",
        "model_version": "3",
        "home_win": 0.5,
        "draw": 0.3,
        "away_win": 0.2,
    },
    "io.time2bet.features.requested": {"leagues": ["E0"], "seasons": ["2020-2021"]},
    "io.time2bet.scoring.requested": {"day": "2022-05-01", "leagues": ["E0", "SP1"]},
    "io.time2bet.model.promoted": {"model_name": "time2bet-outcome", "version": "4", "previous_version": "3"},
    "io.time2bet.workflow.finished": {
        "workflow": "etl-x7k2p",
        "pipeline": "etl",
        "status": "Succeeded",
        "duration_s": 42.0,
    },
    "io.time2bet.matchday.requested": {},
    "io.time2bet.match.updated": {
        "match_id": 7,
        "league": "E0",
        "season": "2025-2026",
        "status": "live",
        "minute": "10",
        "home_goals": 1,
        "away_goals": 0,
        "changed": ["status", "score"],
        "fetched_at": "2025-12-06T15:10:00Z",
    },
    "io.time2bet.preview.updated": {
        "match_id": 7,
        "league": "E0",
        "season": "2025-2026",
        "kickoff_utc": "2025-12-06T15:00:00Z",
        "changed": ["lineups"],
        "fetched_at": "2025-12-06T09:00:00Z",
    },
}

# What the manifests say each type reaches (the expectation the routing tests hold the table to).
EXPECTED_SUBSCRIBERS: dict[str, set[str]] = {
    "io.time2bet.scrape.requested": {"scrape"},
    "io.time2bet.matches.ingested": {"cache-ops"},
    "io.time2bet.cache.invalidate": {"cache-ops"},
    "io.time2bet.prediction.requested": {"infer"},
    "io.time2bet.prediction.completed": {"cache-ops"},
    "io.time2bet.features.requested": {"batch-features"},
    "io.time2bet.scoring.requested": {"batch-score"},
    "io.time2bet.model.promoted": {"batch-score"},
    "io.time2bet.workflow.finished": {"workflow-runs"},
    "io.time2bet.matchday.requested": {"matchday"},
    "io.time2bet.match.updated": {"cache-ops", "batch-score"},
    "io.time2bet.preview.updated": {"batch-score"},
}


def one_of_each() -> list[CloudEvent]:
    return [make_event(event_type, data, source=SOURCE) for event_type, data in VALID_DATA.items()]
