"""The dispatcher of `t2b bench events` in a process of its own, consuming one Trigger at a chosen parallelism.

The Trigger is the manifests' Trigger for the event type, renamed per run (so each run has a queue
of its own) and pointed at the service given; the dedupe memory is the settings' (Redis when set).

    python -m shared.bench.events_dispatch EVENT_TYPE PARALLELISM SERVICE=URL DEAD_LETTER=URL
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace

from shared.config import get_settings
from shared.events.dispatcher import RabbitDispatcher, run_on_uvloop
from shared.events.routing import RoutingTable, load_routing


def bench_routing(event_type: str, parallelism: int, service: str) -> RoutingTable:
    routing = load_routing()
    [trigger] = [t for t in routing.triggers if t.filter_attributes.get("type") == event_type]
    trigger = replace(
        trigger, name=f"bench-{service}-p{parallelism}", subscriber_service=service, parallelism=parallelism
    )
    return RoutingTable(brokers=routing.brokers, triggers=(trigger,), pingsources=())


def main(arguments: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    event_type, parallelism, *services = arguments
    service_urls = dict(service.split("=", 1) for service in services)
    routing = bench_routing(event_type, int(parallelism), next(iter(service_urls)))
    amqp_url = get_settings().amqp_url
    if not amqp_url:
        raise SystemExit("AMQP_URL is not set")
    dispatcher = RabbitDispatcher(amqp_url, routing, service_urls)
    dispatcher.declare()
    run_on_uvloop(dispatcher.run_until_signalled())


if __name__ == "__main__":
    main(sys.argv[1:])
