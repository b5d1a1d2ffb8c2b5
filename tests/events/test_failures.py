"""At least once under failure, on a RabbitMQ node of the test's own (tests/events/private_rabbitmq.py).

- the dispatcher process SIGKILLed mid-run and started again: no event lost, each with one effect;
- RabbitMQ force-closing every connection under load: no confirmed event lost, the publisher and
  the dispatcher reconnect by themselves;
- a memory alarm (flow control): POST /predict/async answers 503 with Retry-After instead of
  hanging or dropping, and the events confirmed before and after it are all there.

The subscriber stands in for an event function: like shared/tasks/handler it applies an event's
effect only if the dedupe memory (Redis) has not seen its id, so a redelivery is a delivery but not
a second effect. Nothing is faked: real RabbitMQ, Redis, HTTP and processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pika
import pytest
import redis
from fastapi.testclient import TestClient

from shared.events.contract import make_event
from shared.events.dedupe import Deduper
from shared.events.dispatcher import RabbitDispatcher
from shared.events.http import from_http
from shared.events.rabbitmq import RabbitPublisher, declare_topology_at, trigger_queue
from shared.events.routing import RoutingTable, load_routing
from shared.processes import REPO, listening
from tests.events.events import VALID_DATA
from tests.events.private_rabbitmq import PrivateRabbit

pytestmark = [pytest.mark.rabbitmq, pytest.mark.redis]
EVENT_TYPE = "io.time2bet.prediction.requested"  # to infer, parallelism 10 in the manifests
SUBSCRIBER = "infer"
WORK_SECONDS = 0.005  # per delivery, so a run lasts long enough to be interrupted


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    node = PrivateRabbit(tmp_path_factory.mktemp("rabbit"))
    node.start()
    yield node
    node.kill()


@dataclass
class IdempotentSubscriber:
    """Deliveries as they came; effects once per event id, as a function's dedupe makes them."""

    deduper: Deduper
    deliveries: Counter[str] = field(default_factory=Counter)
    effects: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def receive(self, event_id: str) -> None:
        key = Deduper.key(SUBSCRIBER, "/tests/failures", event_id)
        with self.lock:
            self.deliveries[event_id] += 1
            if not self.deduper.seen(key):
                self.effects[event_id] += 1
                self.deduper.remember(key)

    def wait_for(self, ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if ids <= self.deliveries.keys():
                    return
            time.sleep(0.05)
        with self.lock:
            missing = len(ids - self.deliveries.keys())
        raise AssertionError(f"{missing} of {len(ids)} events never delivered")

    def count(self) -> int:
        with self.lock:
            return len(self.deliveries)


@contextmanager
def serving(subscriber: IdempotentSubscriber) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            event = from_http({k.lower(): v for k, v in self.headers.items()}, body)
            time.sleep(WORK_SECONDS)
            subscriber.receive(event["id"])
            self.send_response(202)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def redis_url(redis_prefix: str) -> Iterator[str]:
    """Redis for the dedupe memories, under the test's prefix; its keys go in one call afterwards."""
    url = "redis://127.0.0.1:6379/0"
    if not listening("127.0.0.1", 6379):
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    yield url
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{redis_prefix}*", count=5000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def subscriber(redis_url: str, redis_prefix: str) -> IdempotentSubscriber:
    return IdempotentSubscriber(Deduper(redis_url, f"{redis_prefix}function:", 600, 10))


def only_infer(routing: RoutingTable) -> RoutingTable:
    triggers = tuple(t for t in routing.triggers if t.subscriber_service == SUBSCRIBER)
    return RoutingTable(brokers=routing.brokers, triggers=triggers, pingsources=())


def events(count: int) -> list:
    return [make_event(EVENT_TYPE, VALID_DATA[EVENT_TYPE], source="/tests/failures") for _ in range(count)]


def ready_messages(amqp_url: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def start_dispatcher_process(amqp_url: str, url: str, redis_url: str, redis_prefix: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "AMQP_URL": amqp_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "EVENTS_BACKOFF_SCALE": "0.01",
    }
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "shared.events.dispatcher", f"{SUBSCRIBER}={url}", f"dead-letter={url}"],
            env=env,
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_killing_the_dispatcher_mid_run_loses_nothing_and_applies_each_event_once(
    rabbit: PrivateRabbit, subscriber: IdempotentSubscriber, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    sent = events(200)
    routing = load_routing()
    # The queues exist before anything is published: an unroutable message is confirmed and dropped.
    declare_topology_at(rabbit.url, routing)
    publisher = RabbitPublisher(rabbit.url, routing)
    with serving(subscriber) as url:
        log = tmp_path / "dispatcher.log"
        first = start_dispatcher_process(rabbit.url, url, redis_url, redis_prefix, log)
        try:
            publisher.publish_many(sent)
            deadline = time.monotonic() + 60
            while subscriber.count() < len(sent) // 4:
                assert first.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
                time.sleep(0.01)
        finally:
            os.kill(first.pid, signal.SIGKILL)  # mid-run: deliveries in flight, acks not sent
            first.wait(10)
        interrupted_at = subscriber.count()
        assert interrupted_at < len(sent), "the run ended before the dispatcher was killed"

        second = start_dispatcher_process(rabbit.url, url, redis_url, redis_prefix, log)
        try:
            subscriber.wait_for({event["id"] for event in sent}, timeout=60)
            time.sleep(0.5)  # let redelivered copies, if any, arrive before counting
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()[-2000:]
    publisher.close()

    ids = {event["id"] for event in sent}
    assert set(subscriber.effects) == ids and set(subscriber.effects.values()) == {1}
    # Only what was unacked at the kill (at most the prefetch, the Trigger's parallelism) could be delivered
    # twice; the subscriber's own dedupe (Redis) kept each of those copies to one effect.
    redelivered = sum(subscriber.deliveries.values()) - len(ids)
    [trigger] = only_infer(routing).triggers
    assert 0 <= redelivered <= trigger.parallelism
    assert ready_messages(rabbit.url, trigger_queue(trigger.name)) == 0


def test_connections_closed_by_the_broker_under_load_lose_nothing(
    rabbit: PrivateRabbit, subscriber: IdempotentSubscriber
) -> None:
    routing = only_infer(load_routing())
    publisher = RabbitPublisher(rabbit.url, routing)
    confirmed: list[str] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def publish_until_stopped() -> None:
        while not stop.is_set():
            batch = events(10)
            try:
                publisher.publish_many(batch)
            except Exception as error:  # counted: the publisher must recover without the caller's help
                failures.append(error)
                continue
            confirmed.extend(event["id"] for event in batch)
            time.sleep(0.01)

    with (
        serving(subscriber) as url,
        RabbitDispatcher(rabbit.url, routing, {SUBSCRIBER: url, "dead-letter": url}, backoff_scale=0.01),
    ):
        publishing = threading.Thread(target=publish_until_stopped)
        publishing.start()
        try:
            while len(confirmed) < 50:
                time.sleep(0.01)
            closed_after = len(confirmed)
            rabbit.ctl("close_all_connections", "forced by test_failures")
            deadline = time.monotonic() + 30
            while len(confirmed) < closed_after + 100 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            publishing.join(30)
        subscriber.wait_for(set(confirmed), timeout=60)
    publisher.close()

    assert len(confirmed) >= closed_after + 100, "the publisher did not recover after the connections closed"
    assert failures == []
    assert set(confirmed) <= set(subscriber.effects) and set(subscriber.effects.values()) == {1}


def test_flow_control_answers_503_with_retry_after_and_loses_nothing(rabbit: PrivateRabbit, configure) -> None:
    from functions.predict_async.main import app

    configure(AMQP_URL=rabbit.url)
    [trigger] = only_infer(load_routing()).triggers
    queue = trigger_queue(trigger.name)
    body = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2022-04-19T19:00:00Z"}
    with TestClient(app) as client:
        assert client.post("/predict/async", json=body).status_code == 202  # declares, publishes, confirmed
        before = ready_messages(rabbit.url, queue)
        rabbit.ctl("set_vm_memory_high_watermark", "absolute", "1")  # a memory alarm: publishers are blocked
        try:
            started = time.monotonic()
            refused = client.post("/predict/async", json=body)
            waited = time.monotonic() - started
        finally:
            rabbit.ctl("set_vm_memory_high_watermark", "0.4")
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) > 0 and "backpressure" in refused.json()["detail"]
        assert waited < 10  # bounded: the request did not hang on the blocked connection
        deadline = time.monotonic() + 30
        while True:
            accepted = client.post("/predict/async", json=body)
            if accepted.status_code == 202 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert accepted.status_code == 202, accepted.text
    # Confirmed before and after the alarm: all in the queue (the refused one may be too: at least once).
    assert ready_messages(rabbit.url, queue) >= before + 1
