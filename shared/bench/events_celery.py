"""Celery beside the event path in `t2b bench events`: its own virtualenv, a worker, the same work.

The virtualenv is built once from requirements/bench-celery.txt and reused while that file is
unchanged. A .pth file puts the project and this virtualenv's packages after Celery's own, so the
infer task runs the very same DataPlane on the same champion as the infer function. Celery runs twice:
as the seed ran it (a classic queue, publishes not confirmed), then with the event path's guarantees
(a quorum queue, every publish confirmed), so the report shows what those guarantees cost either side.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from shared.bench.environment import Fixture
from shared.bench.events_report import (
    CELERY_ASYNC_WORK,
    CELERY_NOOP_WORK,
    EventsBenchReport,
    Plan,
    Row,
    running,
    wait_for_consumer,
    wait_for_count,
)
from shared.bench.serve import predict_bodies
from shared.processes import REPO, launch, stop_process

REQUIREMENTS = REPO / "requirements" / "bench-celery.txt"
DEFAULT_VENV = REPO / "var" / "bench" / "celery-venv"
APP = "shared.bench.events_celery_app"
BODIES = 5_000


class CeleryUnavailable(RuntimeError):
    pass


def ensure_virtualenv(venv: Path, timeout_s: float = 600.0) -> Path:
    """The virtualenv's python, installing the pinned set first when missing or out of date."""
    python, marker = venv / "bin" / "python", venv / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if not (python.exists() and marker.exists() and marker.read_text() == wanted):
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(REQUIREMENTS)],
        ]
        for step in steps:
            try:
                subprocess.run(step, check=True, capture_output=True, text=True, timeout=timeout_s)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                output = (getattr(exc, "stderr", "") or "").strip().splitlines()
                raise CeleryUnavailable(f"building {venv}: {output[-1] if output else exc}") from None
        marker.write_text(wanted)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # After Celery's packages: the project, then the packages it runs on (this interpreter's).
    (Path(site) / "t2b-project.pth").write_text(f"{REPO}\n{sysconfig.get_paths()['purelib']}\n")
    return python


@dataclass(frozen=True)
class Configuration:
    system: str  # the report's system column
    queue: str
    environment: dict[str, str]


# As the seed ran Celery (a classic queue, publishes not confirmed), then with the event path's guarantees.
CONFIGURATIONS = (
    Configuration("celery", "celery", {}),
    Configuration("celery, quorum+confirms", "celery-quorum", {"T2B_BENCH_CELERY_DURABLE": "1"}),
)


def measure(
    report: EventsBenchReport, amqp_url: str, plan: Plan, fixture: Fixture, root: Path, venv: Path, logs: Path
) -> None:
    try:
        python = ensure_virtualenv(venv)
    except CeleryUnavailable as exc:
        report.celery_skipped = str(exc)
        return
    _, body = predict_bodies(fixture)
    bodies = root / "celery-bodies.json"
    bodies.write_text(json.dumps([body(20_000_000 + n) for n in range(BODIES)]))
    done_key = f"{fixture.redis_prefix}celery-done"
    backend = fixture.redis_url or ""
    counter = redis.Redis.from_url(backend)
    try:
        for configuration in CONFIGURATIONS:
            environment = {
                "CELERY_BROKER_URL": amqp_url,
                "CELERY_RESULT_BACKEND": backend,
                "T2B_BENCH_DONE_KEY": done_key,
                "T2B_BENCH_BODIES_FILE": str(bodies),
                **configuration.environment,
            }
            _measure_configuration(report, configuration, environment, plan, python, venv, logs, counter, done_key)
    finally:
        counter.delete(done_key)


def _measure_configuration(
    report: EventsBenchReport,
    configuration: Configuration,
    env: dict[str, str],
    plan: Plan,
    python: Path,
    venv: Path,
    logs: Path,
    counter: redis.Redis,
    done_key: str,
) -> None:
    def done() -> int:
        return int(counter.get(done_key) or 0)

    def worker(concurrency: int) -> subprocess.Popen:
        args = [
            str(venv / "bin" / "celery"),
            "-A",
            APP,
            "worker",
            "-c",
            str(concurrency),
            # Threads, not prefork: the DataPlane starts its prediction-log writer process, which
            # prefork's daemonic children may not do (AssertionError, every infer task failed).
            "-P",
            "threads",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ]
        process = launch(args, logs / f"{configuration.queue}-worker-c{concurrency}.log", env)
        try:
            wait_for_consumer(env["CELERY_BROKER_URL"], configuration.queue, process, timeout=180)
        except Exception:
            stop_process(process)
            raise
        return process

    def send(kind: str, count: int) -> float:
        """Publish `count` tasks from Celery's own client; wall-clock second it began publishing."""
        args = [str(python), "-m", APP, "send", kind, str(count)]
        sent = subprocess.run(args, env=_with(env), cwd=REPO, check=True, capture_output=True, text=True)
        return float(json.loads(sent.stdout.splitlines()[-1])["started"])

    def warm_up(kind: str, concurrency: int) -> int:
        """Every thread of the worker through a task first (infer: the model loaded), as the functions are
        before they are measured; the done count after."""
        warm = done() + concurrency * 2
        send(kind, concurrency * 2)
        wait_for_count(done, warm, f"Celery {kind} warm-up")
        return warm

    for parallelism in plan.parallelism:
        with running(worker(parallelism)):
            for kind, count, work in (
                ("noop", plan.noop_events, CELERY_NOOP_WORK),
                ("infer", plan.infer_events, "infer task (result in Redis)"),
            ):
                warm = warm_up(kind, parallelism)
                started = send(kind, count)
                wait_for_count(done, warm + count, f"Celery {kind} at concurrency {parallelism}")
                rate = count / (time.time() - started)
                row = Row(configuration.system, work, f"c={parallelism}", rate, note=f"{count:,} tasks, thread pool")
                report.add(row)

    with running(worker(_async_concurrency())):
        warm_up("infer", _async_concurrency())
        for clients in plan.clients:
            args = [str(python), "-m", APP, "round-trips", str(clients), str(plan.seconds)]
            ran = subprocess.run(args, env=_with(env), cwd=REPO, check=True, capture_output=True, text=True)
            figures: dict[str, Any] = json.loads(ran.stdout.splitlines()[-1])
            report.add(
                Row(
                    configuration.system,
                    CELERY_ASYNC_WORK,
                    f"{clients} clients",
                    figures["count"] / figures["seconds"],
                    figures["p50_ms"],
                    figures["p99_ms"],
                    note="result via the Redis backend",
                )
            )


def _with(env: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, **env}


def _async_concurrency() -> int:
    """The infer Trigger's parallelism in the manifests: the dispatcher runs the async predictions at it."""
    from shared.events.routing import load_routing

    [trigger] = [t for t in load_routing().triggers if t.subscriber_service == "infer"]
    return trigger.parallelism
