"""`t2b bench events`: the event path end to end, side by side with Celery doing the same work.

In one run, on a RabbitMQ vhost of its own and Redis under a key prefix of its own:
- publishing: pika waiting for each confirm (the old publisher) beside the pipelined publisher;
- events/s end to end (publish → queue → dispatcher process → HTTP function → ack) for a no-op
  subscriber and for `infer` (jobs created first, the run ends when rq has them all finished), at
  Trigger parallelism 1/8/32;
- async predictions: N clients each POST /predict/async and wait for the job's prediction.completed
  event, beside synchronous POST /predict driven by the same number of clients;
- Celery (its own virtualenv, same RabbitMQ, same Redis) running the same no-op and inference work.
Every process it starts is stopped before it returns; the machine's load is printed with the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import aiormq
import httpx
import pika
import typer
from cloudevents.http import CloudEvent

from shared.bench import events_celery, functions
from shared.bench.environment import Fixture, drop_redis_keys, find_redis, prepare
from shared.bench.events_dispatch import bench_routing
from shared.bench.events_report import (
    ASYNC_WORK,
    NOOP_WORK,
    EventsBenchReport,
    Plan,
    Row,
    console,
    running,
    wait_for_consumer,
    wait_for_count,
)
from shared.bench.load import Load, choose_generator, percentile
from shared.bench.serve import data_dir, predict_bodies
from shared.events.amqp import header_key, to_amqp
from shared.events.contract import PREDICTION_COMPLETED as COMPLETED
from shared.events.contract import PREDICTION_REQUESTED as REQUESTED
from shared.events.contract import make_event, spec_for
from shared.events.rabbitmq import RabbitPublisher, broker_exchange, declare_topology_at, trigger_queue
from shared.processes import free_port, launch, start_process, wait_for_port

NOOP = "noop"
PUBLISH_BATCH = 500


# --- RabbitMQ and processes --------------------------------------------------------------------


@contextmanager
def bench_vhost(amqp_url: str) -> Iterator[str]:
    """A vhost of the bench's own on the broker of `amqp_url` (rabbitmqctl on this machine), deleted after."""
    vhost = f"t2b-bench-{uuid.uuid4().hex[:8]}"
    parts = urlsplit(amqp_url)
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    user = parts.username or "guest"
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True, capture_output=True
    )
    try:
        yield parts._replace(path=f"/{quote(vhost, safe='')}", query="").geturl()
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


@dataclass(frozen=True)
class Backends:
    """What the bench's dispatcher processes connect to: its vhost, and Redis under its prefix (dedupe)."""

    amqp_url: str
    redis_url: str
    redis_prefix: str

    def environment(self) -> dict[str, str]:
        return {"AMQP_URL": self.amqp_url, "REDIS_URL": self.redis_url, "REDIS_KEY_PREFIX": self.redis_prefix}


def start_dispatcher(
    backends: Backends, event_type: str, parallelism: int, service: str, url: str, logs: Path
) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "shared.bench.events_dispatch",
        event_type,
        str(parallelism),
        f"{service}={url}",
        f"dead-letter={url}",
    ]
    return launch(args, logs / f"dispatcher-{service}-p{parallelism}.log", backends.environment())


def publish_all(publisher: RabbitPublisher, events: Sequence[Any]) -> None:
    for start in range(0, len(events), PUBLISH_BATCH):
        publisher.publish_many(events[start : start + PUBLISH_BATCH])


# --- the measurements ----------------------------------------------------------------------------


def measure_publishers(report: EventsBenchReport, amqp_url: str, count: int) -> None:
    """Confirmed publishes/s into a Trigger queue nobody consumes: one confirm at a time vs pipelined."""
    routing = bench_routing(REQUESTED, 1, "publish-only")
    declare_topology_at(amqp_url, routing)
    events = [make_event(REQUESTED, _requested_data(f"p{n}", {}), source="/bench") for n in range(count)]
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        started = time.perf_counter()
        for event in events[: count // 5]:  # a fifth: this one is slow
            headers, content_type, body = to_amqp(event)
            properties = pika.BasicProperties(headers=headers, content_type=content_type, delivery_mode=2)
            channel.basic_publish(broker_exchange(routing.triggers[0].broker), "", body, properties)
        report.add(
            Row(
                "time2bet",
                "publish, pika 1 confirm/time",
                "1 thread",
                count // 5 / (time.perf_counter() - started),
                note="the publisher before #16",
            )
        )
    finally:
        connection.close()
    publisher = RabbitPublisher(amqp_url, routing)
    try:
        publisher.publish(events[0])  # connect outside the timing
        started = time.perf_counter()
        publish_all(publisher, events)
        report.add(
            Row(
                "time2bet",
                "publish, pipelined confirms",
                f"batch {PUBLISH_BATCH}",
                count / (time.perf_counter() - started),
            )
        )
    finally:
        publisher.close()


def timed_run(
    backends: Backends,
    parallelism: int,
    service: str,
    url: str,
    batches: tuple[Sequence[CloudEvent], Sequence[CloudEvent]],
    done: Callable[[], int],
    logs: Path,
) -> float:
    """A dispatcher process for `service` at `parallelism`; the warm-up batch goes through untimed, then
    the seconds from the first publish of the measured batch until `done` has counted all of it."""
    routing = bench_routing(REQUESTED, parallelism, service)
    declare_topology_at(backends.amqp_url, routing)
    publisher = RabbitPublisher(backends.amqp_url, routing)
    with running(start_dispatcher(backends, REQUESTED, parallelism, service, url, logs)) as dispatcher:
        wait_for_consumer(backends.amqp_url, trigger_queue(routing.triggers[0].name), dispatcher)
        try:
            seconds = 0.0
            for batch in batches:
                before = done()
                started = time.perf_counter()
                publish_all(publisher, batch)
                wait_for_count(done, before + len(batch), f"{service} at parallelism {parallelism}")
                seconds = time.perf_counter() - started
            return seconds
        finally:
            publisher.close()


def measure_noop(report: EventsBenchReport, backends: Backends, plan: Plan, logs: Path) -> None:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "shared.bench.events_sink:app", "--lifespan", "off", "--host",
            "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    sink_url = f"http://127.0.0.1:{port}/"
    with running(start_process(args, port, logs / "noop-sink.log")), httpx.Client() as client:

        def received() -> int:
            return int(client.get(sink_url).text)

        for parallelism in plan.parallelism:
            warmup, measured = (
                [make_event(REQUESTED, _requested_data(f"n{n}", {}), source="/bench") for n in range(count)]
                for count in (parallelism * 10, plan.noop_events)
            )
            seconds = timed_run(backends, parallelism, NOOP, sink_url, (warmup, measured), received, logs)
            report.add(_events_per_second(NOOP_WORK, parallelism, len(measured), seconds))


def _events_per_second(what: str, parallelism: int, events: int, seconds: float) -> Row:
    return Row("time2bet", what, f"p={parallelism}", events / seconds, note=f"{events:,} events")


def measure_infer(
    report: EventsBenchReport, backends: Backends, plan: Plan, fixture: Fixture, infer_url: str, logs: Path
) -> None:
    from shared.config import get_settings
    from shared.jobs import job_store_from_settings
    from shared.serving.schemas import PredictRequest

    _, body = predict_bodies(fixture)
    jobs = job_store_from_settings(get_settings())
    numbers = iter(range(1, 2**62))

    def requested(count: int) -> list[CloudEvent]:
        """Events for jobs created now, as predict-async creates them."""
        events = []
        for number in numbers:
            if len(events) == count:
                break
            task_id, request = f"bench-{uuid.uuid4().hex}", body(number)
            jobs.create(task_id, PredictRequest.model_validate(request))
            events.append(make_event(REQUESTED, _requested_data(task_id, request), source="/bench"))
        return events

    for parallelism in plan.parallelism:
        measured = requested(plan.infer_events)
        batches = (requested(parallelism * 2), measured)
        seconds = timed_run(backends, parallelism, "infer", infer_url, batches, _finished_counter(fixture), logs)
        report.add(_events_per_second("infer (rq job finished)", parallelism, len(measured), seconds))


def measure_async(
    report: EventsBenchReport, amqp_url: str, plan: Plan, fixture: Fixture, submit_url: str, predict_url: str
) -> None:
    """Clients each submit and wait for their job's prediction.completed; then sync /predict, same clients."""
    _, body = predict_bodies(fixture)
    loader_name, generate = choose_generator("auto")
    first = 10_000_000  # bodies apart from the infer runs' and each other's: every request a cache miss
    for url in (submit_url, predict_url):  # the first request loads the model: not part of any figure
        httpx.post(url, json=body(first - 1), timeout=120).raise_for_status()
    for clients in plan.clients:
        latencies, seconds = asyncio.run(_async_round_trips(amqp_url, submit_url, body, clients, plan.seconds, first))
        first += 1_000_000
        latencies.sort()
        report.add(
            Row(
                "time2bet",
                ASYNC_WORK,
                f"{clients} clients",
                len(latencies) / seconds,
                statistics.median(latencies) * 1000,
                percentile(latencies, 0.99) * 1000,
                note="POST /predict/async → completed event",
            )
        )
        result = generate(Load(predict_url, body, clients, plan.seconds, 1.0, first))
        first += 1_000_000
        report.add(
            Row(
                "time2bet",
                "sync POST /predict",
                f"{clients} clients",
                result.requests_per_s,
                result.p50_ms,
                result.p99_ms,
                note=f"{loader_name}; non-200: {result.non_200}",
            )
        )


async def _async_round_trips(
    amqp_url: str, submit_url: str, body: Callable[[int], dict[str, Any]], clients: int, seconds: float, first: int
) -> tuple[list[float], float]:
    waiting: dict[str, asyncio.Future[float]] = {}
    arrived: dict[str, float] = {}  # completed before its client read the 202
    connection = await aiormq.connect(amqp_url)
    channel = await connection.channel()
    declared = await channel.queue_declare(exclusive=True, auto_delete=True)
    arguments = {"x-match": "all", header_key("type"): COMPLETED}
    await channel.queue_bind(declared.queue, broker_exchange(spec_for(COMPLETED).broker), arguments=arguments)

    async def on_completed(message: aiormq.abc.DeliveredMessage) -> None:
        task_id = json.loads(message.body)["job_id"]
        future = waiting.pop(task_id, None)
        if future is None:
            arrived[task_id] = time.perf_counter()
        elif not future.done():
            future.set_result(time.perf_counter())

    await channel.basic_consume(declared.queue, on_completed, no_ack=True)
    numbers = iter(range(first, 2**62))
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def client() -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.post(submit_url, json=body(next(numbers))) as answer:
                    accepted = await answer.json()
                if answer.status != 202:
                    raise RuntimeError(f"POST /predict/async answered {answer.status}: {accepted}")
                task_id = accepted["task_id"]
                if task_id in arrived:
                    finished = arrived.pop(task_id)
                else:
                    waiting[task_id] = asyncio.get_running_loop().create_future()
                    finished = await asyncio.wait_for(waiting[task_id], 60)
                latencies.append(finished - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    await connection.close()
    return latencies, elapsed


def _requested_data(job_id: str, request: dict[str, Any]) -> dict[str, Any]:
    request = request or {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2022-04-19T19:00:00Z"}
    return {"job_id": job_id, "request": request}


def _finished_counter(fixture: Fixture) -> Callable[[], int]:
    import redis
    from rq import Queue

    queue = Queue(f"{fixture.redis_prefix}predictions", connection=redis.Redis.from_url(fixture.redis_url or ""))
    return lambda: queue.finished_job_registry.count + queue.failed_job_registry.count


# --- the command -----------------------------------------------------------------------------------


def bench_events_command(
    json_path: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    quick: bool = typer.Option(False, "--quick", help="Parallelism 8 and 8 clients only, few events, no Celery."),
    events: int | None = typer.Option(
        None, "--events", min=100, help="No-op events per level; infer gets a tenth (default 10,000; --quick 1,000)."
    ),
    with_celery: bool = typer.Option(True, "--celery/--no-celery", help="Run Celery side by side."),
    seconds: float | None = typer.Option(None, "--seconds", min=1, help="Async/sync load per level (default 10)."),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="Keep the data dir and logs here (default: temp)."),
    celery_venv: Path = typer.Option(
        events_celery.DEFAULT_VENV, "--celery-venv", help="Celery's own virtualenv, built once from its requirements."
    ),
) -> None:
    """Events/s through RabbitMQ, async predictions and their latency, side by side with Celery."""
    from shared.config import get_settings

    plan = Plan.choose(quick, seconds, events)
    redis_url = find_redis()
    if redis_url is None:
        raise typer.BadParameter("needs Redis (REDIS_URL, or a server on 127.0.0.1:6379) for jobs and dedupe")
    amqp_url = get_settings().amqp_url or "amqp://guest:guest@127.0.0.1:5672/%2F"
    report = EventsBenchReport(quick=quick, load_before=os.getloadavg())
    noop_prefix = f"t2b-bench-events-{uuid.uuid4().hex[:8]}:"
    with data_dir(work_dir) as root, bench_vhost(amqp_url) as vhost_url:
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        console.print("publishing", highlight=False)
        measure_publishers(report, vhost_url, plan.noop_events)
        console.print("no-op function", highlight=False)
        try:
            measure_noop(report, Backends(vhost_url, redis_url, noop_prefix), plan, logs)
        finally:
            drop_redis_keys(redis_url, noop_prefix)
        console.print("preparing demo data and a champion (about 20 s)", highlight=False)
        fixture = prepare(root / "var", redis_url, lambda _line: None)
        os.environ["AMQP_URL"] = vhost_url  # the functions started from here publish into the bench vhost
        try:
            _measure_ml(report, Backends(vhost_url, redis_url, fixture.redis_prefix), plan, fixture, logs)
            if with_celery and not quick:
                events_celery.measure(report, vhost_url, plan, fixture, root, celery_venv, logs)
            else:
                report.celery_skipped = "--quick" if quick else "--no-celery"
        finally:
            drop_redis_keys(redis_url, fixture.redis_prefix)
    report.load_after = os.getloadavg()
    if not console.is_terminal:
        console.width = max(console.width, 140)
    report.print()
    if json_path is not None:
        report.write_json(json_path)
        console.print(f"figures written to {json_path}")


def _measure_ml(report: EventsBenchReport, backends: Backends, plan: Plan, fixture: Fixture, logs: Path) -> None:
    from shared.runtime.function_processes import start_function, stop_functions
    from shared.runtime.functions import discover_functions

    [infer_spec] = [f.spec for f in discover_functions() if f.spec.name == "infer"]
    infer = start_function(infer_spec, free_port())
    try:
        wait_for_port(infer.port, infer.process, 120)
        console.print("infer", highlight=False)
        measure_infer(report, backends, plan, fixture, infer.url, logs)
        console.print("async predictions and sync /predict", highlight=False)
        routing = bench_routing(REQUESTED, _manifest_parallelism(), "infer")
        declare_topology_at(backends.amqp_url, routing)
        submit, submit_base = functions.start_function("functions.predict_async.main:app", logs)
        predict, predict_base = functions.start_function(functions.PREDICT_APP, logs)
        dispatcher = start_dispatcher(backends, REQUESTED, routing.triggers[0].parallelism, "infer", infer.url, logs)
        with running(submit), running(predict), running(dispatcher):
            wait_for_consumer(backends.amqp_url, trigger_queue(routing.triggers[0].name), dispatcher)
            measure_async(
                report, backends.amqp_url, plan, fixture, f"{submit_base}/predict/async", f"{predict_base}/predict"
            )
    finally:
        stop_functions([infer])


def _manifest_parallelism() -> int:
    from shared.events.routing import load_routing

    [trigger] = [t for t in load_routing().triggers if t.filter_attributes.get("type") == REQUESTED]
    return trigger.parallelism
