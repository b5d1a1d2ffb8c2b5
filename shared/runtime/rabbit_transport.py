"""The local RabbitMQ transport of `t2b up`: each event function in a process of its own
behind the RabbitMQ dispatcher, as Knative runs them behind eventing-rabbitmq.

Every delivery is signed and every function process verifies it (shared/events/auth.py): a key made for
this run signs a token of the delivering Trigger for the target's audience, and the processes fetch the
run's JWKS from loopback, so a POST straight to a function's port without a Trigger's token is refused
here as it would be in a cluster with sender identity on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from shared.events.auth import LocalIssuer, SenderCredentials
from shared.events.dispatcher import RabbitDispatcher
from shared.events.rabbitmq import declare_topology_at
from shared.events.routing import RoutingTable
from shared.function_spec import FunctionSpec
from shared.runtime.function_processes import FunctionProcess, service_urls, start_functions, stop_functions

log = logging.getLogger("time2bet.runtime")


class RabbitTransport:
    def __init__(self, amqp_url: str, routing: RoutingTable, namespace: str) -> None:
        self._amqp_url, self._routing, self._namespace = amqp_url, routing, namespace
        self._issuer = LocalIssuer()
        self.functions: list[FunctionProcess] = []
        self._dispatcher: RabbitDispatcher | None = None

    def start(self, specs: Iterable[FunctionSpec]) -> None:
        """Declare the topology, start the functions verifying this run's tokens, then the signing dispatcher."""
        declare_topology_at(self._amqp_url, self._routing)
        self._issuer.start()
        self.functions = start_functions(
            specs, environment=lambda spec: self._issuer.receiver_environment(spec.name, self._routing, self._namespace)
        )
        consumed = _served_routes(self._routing, {function.spec.name for function in self.functions})
        self._dispatcher = RabbitDispatcher(
            self._amqp_url,
            consumed,
            service_urls(self.functions),
            credentials=SenderCredentials(self._issuer, self._namespace),
        )
        self._dispatcher.start()

    def stop(self) -> None:
        """The dispatcher drains first, then the functions stop, then the JWKS they may still fetch."""
        if self._dispatcher is not None:
            self._dispatcher.stop()
        stop_functions(self.functions)
        self._issuer.stop()


def _served_routes(routing: RoutingTable, running: set[str]) -> RoutingTable:
    """The Triggers whose subscriber runs here; the others' queues keep their events until it does."""
    missing = sorted({t.subscriber_service for t in routing.triggers} - running)
    if missing:
        log.warning("no function folder for %s: their Trigger queues are not consumed", ", ".join(missing))
    triggers = tuple(t for t in routing.triggers if t.subscriber_service in running)
    return RoutingTable(brokers=routing.brokers, triggers=triggers, pingsources=routing.pingsources)
