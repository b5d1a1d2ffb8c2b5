"""Small network stand-ins for the operator's tests.

- `SwitchableProxy`: a TCP relay in front of the REAL MLflow server; switched off it refuses
  connections, which is what the operator sees when MLflow is down. Its port is below the kernel's
  ephemeral range: while it is off, a client connecting to a closed ephemeral port can be given
  that very port as its own (a TCP self-connect) and then the relay could not listen on it again.
- `FakePrometheus`: a FAKE of Prometheus' HTTP query API (`GET /api/v1/query`), answering each
  query with the sample the test set for the revision named in it; `down` makes it answer 503.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import QuietHandler


class SwitchableProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener: socket.socket | None = None
        self.port = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SwitchableProxy:
        with self._lock:
            listener = socket.create_server(("127.0.0.1", self.port)) if self.port else _listen_below_ephemeral()
            self.port = listener.getsockname()[1]
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Cut open connections and refuse new ones until `start()` (same port)."""
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def _listen_below_ephemeral(attempts: int = 50) -> socket.socket:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(10000, low), attempts):
        try:
            return socket.create_server(("127.0.0.1", port))
        except OSError:
            continue
    raise OSError(f"no free port between 10000 and {low}")


REVISION = re.compile(r'revision_name="([^"]+)"')


class FakePrometheus:
    """samples[revision] = (error ratio, p99 latency in ms); a revision without samples has no data."""

    def __init__(self) -> None:
        self.samples: dict[str, tuple[float, float]] = {}
        self.down = False
        self.queries: list[str] = []
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/api/v1/query" or fake.down:
                    self._answer(503 if fake.down else 404, {"status": "error", "error": "unavailable"})
                    return
                query = parse_qs(parts.query)["query"][0]
                fake.queries.append(query)
                revision = REVISION.search(query)
                sample = fake.samples.get(revision[1]) if revision else None
                result = []
                if sample is not None:
                    value = sample[0] if "revision_app_request_count" in query else sample[1]
                    result = [{"metric": {}, "value": [0, str(value)]}]
                self._answer(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
