"""The benchmark's load generators against a small local HTTP server that records what it receives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.bench.load import Load, LoadGenerator, run_aiohttp, run_wrk, wrk_available

REJECTED = 7  # the body numbered 7 is answered 503


class Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the generators expect
    received: list[int] = []

    def do_POST(self) -> None:
        number = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["number"]
        self.received.append(number)
        status = 503 if number == REJECTED else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


GENERATORS = [
    pytest.param(run_aiohttp, id="aiohttp"),
    pytest.param(
        run_wrk, id="wrk", marks=pytest.mark.skipif(not wrk_available(), reason="wrk is not installed (apt: wrk)")
    ),
]


@pytest.mark.parametrize("generate", GENERATORS)
def test_generator_sends_numbered_bodies_once_and_counts_statuses(recorder: str, generate: LoadGenerator) -> None:
    result = generate(Load(recorder, lambda number: {"number": number}, 2, seconds=1.0, warmup_seconds=1.0, first=5))

    received = Recorder.received
    assert len(received) == len(set(received)), "a body was sent twice"
    assert min(received) >= 5 and max(received) < 5 + result.numbers_used
    assert REJECTED in received and result.statuses.get(503, 0) <= 1  # 7 falls in the warm-up
    assert result.requests > 0 and result.statuses.get(200) == result.requests - result.non_200
    assert result.requests <= len(received) and not result.bodies_reused
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms
    assert result.requests_per_s == pytest.approx(result.requests / result.seconds)
