"""The alias lookup over MLflow's REST API: what it sends and how it reads each answer.

The happy path against a real `mlflow server` runs in test_model_cache.py and test_predict.py. Here a
recording HTTP server stands in for one, because what is checked is what reaches the server: the
credentials MlflowClient would send (an MLflow server with its basic-auth app would only say 401 or
200), that a redirect is not followed with them, and the URL without the password.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.processes import free_port
from shared.serving import aliases
from shared.serving.model_cache import VersionRef
from tests.tls import self_signed_for_loopback

VERSION = {"name": "time2bet-outcome", "version": "7", "run_id": "r7", "source": "models:/m-7"}


class Recorder(BaseHTTPRequestHandler):
    """Answers the alias lookup: `champion` names version 7, `gone` redirects, anything else is missing."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        url = urlsplit(self.path)
        alias = parse_qs(url.query).get("alias", [""])[0]
        if url.path == aliases.ALIAS_PATH and alias == "champion":
            self._answer(200, {"model_version": VERSION})
        elif alias == "gone":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()
        else:
            self._answer(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such alias"})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        """Quiet: the test reads `seen`."""


def recording(tls: ssl.SSLContext | None = None) -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Recorder)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}", Recorder.seen
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    yield from recording()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The recorder over HTTPS with a certificate of its own CA; yields its host and that certificate."""
    cert_file, key_file = self_signed_for_loopback(tmp_path, "mlflow")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    for host, _ in recording(tls):
        yield host, cert_file


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_credentials_of_the_uri_go_as_a_header_never_in_the_url(server, configure: Callable[..., None]) -> None:
    host, seen = server
    ref = aliases.resolve(f"http://reader:p%40ss@{host}", "time2bet-outcome", "champion")
    assert ref == VersionRef("time2bet-outcome", "7", "r7", "models:/m-7")
    [(path, authorization)] = seen
    assert authorization == basic("reader", "p@ss") and "reader" not in path and "p%40ss" not in path
    assert parse_qs(urlsplit(path).query) == {"name": ["time2bet-outcome"], "alias": ["champion"]}


def test_a_token_in_the_settings_goes_as_a_bearer(server, configure: Callable[..., None]) -> None:
    host, seen = server
    configure(MLFLOW_TRACKING_TOKEN="s3cret")
    aliases.resolve(f"http://{host}", "time2bet-outcome", "champion")
    assert seen[-1][1] == "Bearer s3cret"


def test_a_missing_alias_is_unresolved(server, configure: Callable[..., None]) -> None:
    host, _ = server
    with pytest.raises(aliases.AliasUnresolved, match="RESOURCE_DOES_NOT_EXIST"):
        aliases.resolve(f"http://{host}", "time2bet-outcome", "challenger")


def test_a_redirect_is_not_followed_with_the_credentials(server, configure: Callable[..., None]) -> None:
    host, seen = server
    with pytest.raises(aliases.RegistryUnreachable, match="answered 302"):
        aliases.resolve(f"http://reader:pw@{host}", "time2bet-outcome", "gone")
    assert [path for path, _ in seen if path.startswith("/elsewhere")] == []


def test_a_server_that_does_not_answer_is_unreachable_and_the_password_redacted(
    configure: Callable[..., None],
) -> None:
    with pytest.raises(aliases.RegistryUnreachable) as raised:
        aliases.resolve(f"http://reader:hunter2@127.0.0.1:{free_port()}", "time2bet-outcome", "champion")
    message = str(raised.value)
    assert "unreachable" in message and "hunter2" not in message and "***" in message


def test_https_trusts_the_server_certificate_given_in_the_settings(tls_server, configure: Callable[..., None]) -> None:
    host, cert_file = tls_server
    configure(MLFLOW_TRACKING_SERVER_CERT_PATH=str(cert_file))
    assert aliases.resolve(f"https://{host}", "time2bet-outcome", "champion").version == "7"


def test_https_refuses_a_certificate_no_known_authority_signed(tls_server, configure: Callable[..., None]) -> None:
    host, _ = tls_server
    configure()  # certifi's roots, as MlflowClient's requests would use
    with pytest.raises(aliases.RegistryUnreachable, match="unreachable"):
        aliases.resolve(f"https://reader:hunter2@{host}", "time2bet-outcome", "champion")
    assert Recorder.seen == []  # nothing, credentials least of all, was sent over the refused connection


def test_https_without_verification_when_the_settings_say_insecure(tls_server, configure: Callable[..., None]) -> None:
    host, _ = tls_server
    configure(MLFLOW_TRACKING_INSECURE_TLS="true")
    assert aliases.resolve(f"https://{host}", "time2bet-outcome", "champion").version == "7"
