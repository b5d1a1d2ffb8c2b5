"""`t2b up` as a user runs it: a subprocess on a prepared data directory, stopped with SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from shared.db.models import IngestRun
from shared.db.session import engine_for, transaction
from shared.events.contract import make_event
from shared.events.rabbitmq import RabbitPublisher, queue_depths
from shared.events.routing import load_routing
from tests.prepared import PreparedData
from tests.services import REPO, free_port, python_bin, wait_for_port

pytestmark = pytest.mark.slow
STOP_WITHIN_SECONDS = 20  # SIGTERM, 3 s grace for the function processes, then the dispatcher and the publisher


def eventually(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.1)


@pytest.fixture
def start_up(writable_data: PreparedData, tmp_path: Path) -> Iterator[Callable[..., tuple[str, subprocess.Popen]]]:
    started: list[subprocess.Popen] = []

    def start(*options: str, **env: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        log = (tmp_path / "up.log").open("wb")
        process = subprocess.Popen(
            [python_bin("t2b"), "up", "--port", str(port), *options],
            cwd=REPO,
            env=writable_data.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        wait_for_port(port, process, timeout=180)  # a cold `t2b up` imports every function; CI machines are slow
        return f"http://127.0.0.1:{port}", process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def readme_async_example(url: str) -> dict:
    """The README's async example, word for word: its POST path and body, then its task-status path."""
    readme = (REPO / "README.md").read_text()
    submit = re.search(r"curl -s -X POST localhost:8080(/predict/async) .*?-d '([^']+)'", readme, re.DOTALL)
    status = re.search(r"curl -s localhost:8080(/\S+/)<task_id>", readme)
    assert submit and status, "the README's async example is gone"
    accepted = httpx.post(f"{url}{submit[1]}", content=submit[2], headers={"content-type": "application/json"})
    assert accepted.status_code == 202, accepted.text
    task_id = accepted.json()["task_id"]
    states: list[dict] = []
    eventually(
        lambda: (
            states.append(httpx.get(f"{url}{status[1]}{task_id}", timeout=10).json())
            or states[-1]["status"] in ("finished", "failed")
        ),
        60,
        "the README's async job did not end",
    )
    return states[-1]


def stop_cleanly(process: subprocess.Popen) -> None:
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(STOP_WITHIN_SECONDS) == 0
    assert time.monotonic() - began < STOP_WITHIN_SECONDS


def test_up_on_embedded_defaults_serves_and_runs_the_schedule(writable_data, start_up) -> None:
    closed = free_port()
    url, process = start_up(
        "--ping-now",
        SELENOID_URL=f"http://127.0.0.1:{closed}/wd/hub",
        WHOSCORED_BASE_URL=f"http://127.0.0.1:{closed}",
        SCRAPE_MAX_RETRIES="0",
        EVENTS_BACKOFF_SCALE="0.01",
    )
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    stats = httpx.get(f"{url}/stats", params={"league": "E0"}, timeout=30)
    assert stats.status_code == 200, stats.text

    store = engine_for(f"sqlite:///{writable_data.data_dir.resolve() / 'time2bet.db'}")

    def scrape_attempted() -> bool:
        with transaction(store) as session:
            targets = session.scalars(select(IngestRun.target)).all()
        return any(target.startswith("region=252 tournament=2") for target in targets)

    eventually(scrape_attempted, 30, "the --ping-now scrape recorded no run")
    assert readme_async_example(url)["status"] == "finished"
    stop_cleanly(process)


@pytest.mark.rabbitmq
def test_up_with_rabbitmq_delivers_to_function_processes(start_up, amqp_url, redis_url, redis_prefix) -> None:
    url, process = start_up(AMQP_URL=amqp_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix)
    routing = load_routing()
    queue_depths(amqp_url, routing)  # declares passively: fails unless `t2b up` declared every queue

    client = redis.Redis.from_url(redis_url)
    cached = f"{redis_prefix}stats:E0"
    client.set(cached, b"{}")
    publisher = RabbitPublisher(amqp_url, routing)
    try:
        publisher.publish(make_event("io.time2bet.cache.invalidate", {"scope": "stats"}, source="/t"))
    finally:
        publisher.close()
    eventually(lambda: client.exists(cached) == 0, 20, "cache-ops did not drop the key")
    assert readme_async_example(url)["status"] == "finished"  # infer ran in its own process

    eventually(
        lambda: "t2b_event_queue_depth" in httpx.get(f"{url}/metrics", timeout=10).text,
        15,
        "the queue-depth gauge was not exported",
    )
    stop_cleanly(process)


def test_up_with_rabbitmq_unreachable_is_one_line_naming_the_host(writable_data, redis_url) -> None:
    closed = free_port()
    result = subprocess.run(
        [python_bin("t2b"), "up", "--port", str(free_port())],
        cwd=REPO,
        env=writable_data.env(AMQP_URL=f"amqp://guest:guest@127.0.0.1:{closed}/", REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 75, result.stderr  # temporary: worth retrying once the broker is up
    assert f"RabbitMQ is unreachable at 127.0.0.1:{closed}" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_up_with_rabbitmq_but_no_redis_is_refused_at_start(writable_data) -> None:
    # Without Redis, job state would live in one process while `infer` runs in another: the README's
    # async example would stay "queued" forever.
    result = subprocess.run(
        [python_bin("t2b"), "up", "--port", str(free_port())],
        cwd=REPO,
        env=writable_data.env(AMQP_URL="amqp://guest:guest@127.0.0.1:5672/"),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 2, result.stderr
    assert "AMQP_URL is set without REDIS_URL" in result.stderr and "Traceback" not in result.stderr
