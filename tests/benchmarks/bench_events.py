"""Events/s through the RabbitMQ transport to a trivial local HTTP subscriber.

Publishes N prediction.requested events (Trigger parallelism 10) with publisher confirms, and times
until the subscriber has received them all. Not a test: run it directly.

    python -m tests.benchmarks.bench_events [N]     (needs RabbitMQ on 127.0.0.1:5672 and rabbitmqctl)
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from shared.events.contract import make_event
from shared.events.dedupe import Deduper
from shared.events.dispatcher import RabbitDispatcher
from shared.events.rabbitmq import RabbitPublisher
from shared.events.routing import load_routing
from tests.events.events import VALID_DATA
from tests.events.subscriber import running_subscribers

EVENT_TYPE = "io.time2bet.prediction.requested"


def main(count: int) -> None:
    vhost = f"t2b-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    routing = load_routing()
    events = [make_event(EVENT_TYPE, VALID_DATA[EVENT_TYPE], source="/bench") for _ in range(count)]
    try:
        with running_subscribers() as subscribers, RabbitDispatcher(
                amqp_url, routing, subscribers.urls(routing.services), deduper=Deduper(None, "b:", 60, count)):
            publisher = RabbitPublisher(amqp_url, routing)
            started = time.perf_counter()
            for event in events:
                publisher.publish(event)
            published = time.perf_counter() - started
            subscribers.wait_for(count, "infer", timeout=300)
            delivered = time.perf_counter() - started
            publisher.close()
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
    [trigger] = [t for t in routing.triggers if t.filter_attributes.get("type") == EVENT_TYPE]
    print(f"events: {count}  trigger: {trigger.name}  parallelism: {trigger.parallelism}")
    print(f"publish (confirmed): {count / published:8.0f} events/s")
    print(f"end to end:          {count / delivered:8.0f} events/s  ({delivered:.2f} s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
