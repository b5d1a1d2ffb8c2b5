"""A tiny threaded HTTP server standing in for the Knative Services: records every CloudEvent POST.

Each path is a service (`/scrape`, `/dead-letter`...); its answer status can be set per service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from cloudevents.http import CloudEvent

from shared.events.http import from_http
from tests.fake_http import QuietHandler


@dataclass(frozen=True)
class Received:
    service: str
    headers: dict[str, str]
    event: CloudEvent


class Subscribers:
    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[Received] = []
        self.status: dict[str, int] = {}
        self.reasons: dict[str, str] = {}  # the body a service answers a failure with
        self._lock = threading.Lock()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port}/{service}"

    def urls(self, services: set[str]) -> dict[str, str]:
        return {service: self.url(service) for service in services}

    def to(self, service: str) -> list[Received]:
        with self._lock:
            return [item for item in self.received if item.service == service]

    def wait_for(self, count: int, service: str | None = None, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = [item for item in self.received if service is None or item.service == service]
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"expected {count} deliveries to {service or 'any service'}, got {len(got)}")

    def record(self, service: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.received.append(Received(service, headers, from_http(headers, body)))
            return self.status.get(service, 202), self.reasons.get(service, "").encode("utf-8")


@contextmanager
def running_subscribers() -> Iterator[Subscribers]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    subscribers = Subscribers(server.server_address[1])
    server.subscribers = subscribers  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield subscribers
    finally:
        server.shutdown()
        server.server_close()


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's httpx client expects

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, reason = self.server.subscribers.record(self.path.strip("/"), headers, body)  # type: ignore[attr-defined]
        self._send(status, reason, "text/plain; charset=utf-8")
