"""batch-features and batch-score, each as its own process, on a prepared champion."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.events.contract import make_event
from shared.events.rabbitmq import queue_depths, trigger_queue
from shared.events.routing import load_routing
from shared.features.state import TEAM_STATE_KEY
from shared.ml.score import LATEST_POINTER, batch_key
from tests.prepared import PreparedData
from tests.services import free_port, function_command, start_process, stop_process
from tests.tasks.conftest import post_event

pytestmark = pytest.mark.slow
StartFunction = Callable[..., str]


@pytest.fixture
def start_function(writable_data: PreparedData, tmp_path: Path) -> Iterator[StartFunction]:
    processes = []

    def start(package: str, **env: str) -> str:
        port = free_port()
        processes.append(
            start_process(function_command(package, port), port, tmp_path / f"{package}.log", writable_data.env(**env))
        )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        stop_process(process)


@pytest.mark.rabbitmq
def test_features_requested_rebuilds_the_team_state_and_invalidates_its_cache(
    writable_data, start_function, amqp_url
) -> None:
    url = start_function("batch_features", AMQP_URL=amqp_url)
    state = writable_data.data_dir / "objects" / TEAM_STATE_KEY
    before = state.stat().st_mtime_ns

    requested = make_event("io.time2bet.features.requested", {"leagues": ["E0"], "seasons": ["2021-2022"]}, source="/t")
    response = post_event(url, requested, "binary", timeout=120)

    assert response.status_code == 200, response.text
    assert state.stat().st_mtime_ns > before
    assert json.loads(state.read_bytes())["teams"]
    # the cache.invalidate waits in cache-ops' Trigger queue (no dispatcher runs here)
    assert queue_depths(amqp_url, load_routing())[trigger_queue("cache-ops-on-cache-invalidate")] == 1

    replay = make_event(
        "io.time2bet.features.requested",
        {"leagues": ["E0"], "seasons": ["2021-2022"], "as_of": "2021-01-01T00:00:00Z"},
        source="/t",
    )
    refused = post_event(url, replay, "binary")
    assert refused.status_code == 400 and "as_of replays are not supported" in refused.text


def test_scoring_requested_writes_the_days_batch_and_moves_the_pointer(writable_data, start_function) -> None:
    url = start_function("batch_score")
    objects = writable_data.data_dir / "objects"
    before = json.loads((objects / LATEST_POINTER).read_bytes())

    requested = make_event("io.time2bet.scoring.requested", {"day": "2022-03-01", "leagues": ["E0"]}, source="/t")
    response = post_event(url, requested, "binary", timeout=120)

    assert response.status_code == 200, response.text
    pointer = json.loads((objects / LATEST_POINTER).read_bytes())
    assert pointer["key"] == batch_key(datetime(2022, 3, 1, tzinfo=UTC)) != before["key"]
    assert pointer["written_at"] > before["written_at"] and pointer["rows"] > 0
    assert (objects / pointer["key"]).is_file()
