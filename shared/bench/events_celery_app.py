"""Celery doing what the event functions do, for `t2b bench events`. Runs in Celery's own virtualenv.

The seed ran these queues as Celery tasks; here the same two kinds of work: a no-op, and infer —
the same DataPlane.predict on the same champion as the infer function, its result kept in
Redis (Celery's result backend, where infer keeps it in rq's records). Tasks are acked late (after
they ran), so delivery is at least once as with the dispatcher. Each task counts itself in Redis so
the bench sees when a run is done. The project's code and packages are importable through a .pth
file in the virtualenv, after Celery's own packages.

    celery -A shared.bench.events_celery_app worker ...             (the worker)
    python -m shared.bench.events_celery_app send noop|infer N      (publish N tasks, print when it began)
    python -m shared.bench.events_celery_app round-trips CLIENTS SECONDS   (delay().get() per client)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from celery import Celery

from shared.bench.load import percentile

if TYPE_CHECKING:
    from shared.services import Services

app = Celery("t2b-bench", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ["CELERY_RESULT_BACKEND"])
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    # The results of a run are read within it: kept 10 minutes, not Celery's day, in what may be a shared
    # Redis. (A key prefix would let the bench drop them, but Celery's result waiting then falls back from
    # pub/sub to polling: p99 near 900 ms.)
    result_expires=600,
)
# The seed's configuration by default: a classic queue, publishes not confirmed. With DURABLE the guarantees
# of the event path: a quorum queue (as the brokers' queues), and delay() returns only once RabbitMQ
# confirmed the message, as a publish does there.
DURABLE_QUEUE = "celery-quorum"
if os.environ.get("T2B_BENCH_CELERY_DURABLE"):
    app.conf.update(
        task_default_queue=DURABLE_QUEUE,
        task_default_queue_type="quorum",
        broker_transport_options={"confirm_publish": True},
    )
DONE_KEY = os.environ["T2B_BENCH_DONE_KEY"]
BODIES_FILE = os.environ.get("T2B_BENCH_BODIES_FILE")
BODIES: list[dict[str, Any]] = json.loads(Path(BODIES_FILE).read_text()) if BODIES_FILE else []
_counter: redis.Redis | None = None
_worker_services: Services | None = None
_services_lock = threading.Lock()


def _services() -> Services:
    """The worker process's services, as infer's own process has its own."""
    global _worker_services
    with _services_lock:
        if _worker_services is None:
            from shared.services import Services

            _worker_services = Services.from_environment()
        return _worker_services


def _count_done() -> None:
    global _counter
    if _counter is None:
        _counter = redis.Redis.from_url(os.environ["CELERY_RESULT_BACKEND"])
    _counter.incr(DONE_KEY)


@app.task(name="noop", ignore_result=True)
def noop(event: dict[str, Any]) -> None:
    _count_done()


@app.task(name="infer")
def infer(request: dict[str, Any]) -> dict[str, Any]:
    from shared.serving.schemas import PredictRequest

    response = _services().predictions.predict(PredictRequest.model_validate(request))
    _count_done()
    return response.model_dump(mode="json")


def send(kind: str, count: int) -> dict[str, float]:
    """Publish the tasks; the wall-clock second publishing began, which the bench times from."""
    task = noop if kind == "noop" else infer
    payloads = [{"job_id": str(n)} if kind == "noop" else BODIES[n % len(BODIES)] for n in range(count)]
    started, clock = time.time(), time.perf_counter()
    for payload in payloads:
        task.delay(payload)
    return {"started": started, "seconds": time.perf_counter() - clock}


def round_trips(clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    numbers = iter(range(2**62))

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                body = BODIES[next(numbers) % len(BODIES)]
            started = time.perf_counter()
            infer.delay(body).get(timeout=60)
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "count": len(latencies),
        "seconds": elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    if command == "send":
        print(json.dumps(send(arguments[0], int(arguments[1]))))
    else:
        print(json.dumps(round_trips(int(arguments[0]), float(arguments[1]))))
