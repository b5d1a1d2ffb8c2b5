"""The fault matrix, forged-events column: an event function with sender verification on obeys only a token
of one of its Triggers (shared/events/auth.py). Real HTTP to a real process of cache-ops,
its cache in the real Redis; the tokens come from the local issuer `t2b up` uses, standing in for the
cluster's service-account issuer (the one part faked: there is no Kubernetes API here). The last tests
deliver through the real RabbitMQ with the transport `t2b up` runs.
"""

from __future__ import annotations

import importlib
import json
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
import redis
from cloudevents.http import CloudEvent
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from shared.config import get_settings
from shared.db import migrate
from shared.db.models import DeadLetter
from shared.db.session import engine_for, transaction
from shared.errors import Unavailable
from shared.events.auth import (
    ClusterJWKS,
    LocalIssuer,
    SenderVerifier,
    audience_of,
    child_name,
    oidc_identity,
    senders_of,
)
from shared.events.contract import CACHE_INVALIDATE, make_event
from shared.events.http import to_binary
from shared.events.rabbitmq import RabbitPublisher
from shared.events.routing import load_routing
from shared.function_spec import FunctionSpec
from shared.runtime.function_processes import FunctionProcess, start_functions, stop_functions
from shared.runtime.local import NAMESPACE
from shared.runtime.rabbit_transport import RabbitTransport
from tests.services import REPO, listening, require
from tests.tls import self_signed_for_loopback

AUDIENCE = audience_of("cache-ops", NAMESPACE)
ALLOWED = oidc_identity("Trigger", "cache-ops-on-cache-invalidate", NAMESPACE)
# A real identity of the cluster, with a token any pod can mint for any audience: the HTTP function predict's.
NOT_ALLOWED = f"system:serviceaccount:{NAMESPACE}:predict"
REDIS = "redis://127.0.0.1:6379/0"


def specs(*names: str) -> list[FunctionSpec]:
    """The SPECs of these functions, importing only their modules (discovering every one costs seconds)."""
    return [importlib.import_module(f"functions.{name.replace('-', '_')}.main").SPEC for name in names]


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer()
    issuer.start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def prefix() -> Iterator[str]:
    require(listening("127.0.0.1", 6379), "Redis is not listening on 127.0.0.1:6379")
    prefix = f"t2b-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def cache_ops(issuer: LocalIssuer, prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionProcess]:
    """cache-ops in its own process, verifying senders as `t2b up` configures it."""
    environment = {
        **issuer.receiver_environment("cache-ops", load_routing(), NAMESPACE),
        "REDIS_URL": REDIS,
        "REDIS_KEY_PREFIX": prefix,
        "T2B_DATA_DIR": str(tmp_path_factory.mktemp("cache-ops")),
    }
    started = start_functions(specs("cache-ops"), environment=lambda _: environment)
    yield started[0]
    stop_functions(started)


@pytest.fixture
def cached(prefix: str) -> Iterator[Callable[[], bool]]:
    """A stats entry in Redis that `cache.invalidate` with scope stats drops; call it: is it still there?"""
    client = redis.Redis.from_url(REDIS)
    key = f"{prefix}stats:{uuid.uuid4().hex[:6]}"
    client.set(key, b"{}")
    yield lambda: bool(client.exists(key))
    client.delete(key)


def invalidate_stats() -> CloudEvent:
    return make_event(CACHE_INVALIDATE, {"scope": "stats", "reason": "forged?"}, source="/tests/forged")


def post(function: FunctionProcess, token: str | None = None) -> httpx.Response:
    headers, body = to_binary(invalidate_stats())
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(function.url, headers=headers, content=body, timeout=10)


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": "t2b-local-dispatcher", "sub": ALLOWED, "aud": AUDIENCE, "iat": now, "exp": now + 600, **overrides}


def assert_refused(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["detail"]


def test_a_forged_event_without_a_token_is_refused_and_the_cache_survives(cache_ops, cached) -> None:
    answer = post(cache_ops)
    assert_refused(answer, 401)
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "no bearer token" in answer.json()["detail"]
    assert cached()


def foreign_key_token(issuer: LocalIssuer) -> str:
    """Right claims and the issuer's key id, signed by a key of the attacker's own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims(), key, algorithm="RS256", headers={"kid": issuer.key_id})


INVALID_TOKENS: dict[str, tuple[Callable[[LocalIssuer], str], str]] = {
    "signed by another key": (foreign_key_token, "Signature verification failed"),
    "for another audience": (lambda i: i.sign(claims(aud=audience_of("infer", NAMESPACE))), "Audience"),
    "expired": (lambda i: i.sign(claims(exp=int(time.time()) - 3600)), "expired"),
    "from another issuer": (lambda i: i.sign(claims(iss="https://issuer.example")), "issuer"),
    "unsigned": (lambda _: jwt.encode(claims(), None, algorithm="none"), "signing key"),
    "not a JWT": (lambda _: "not-a-jwt", "not valid"),
}


@pytest.mark.parametrize("case", INVALID_TOKENS, ids=list(INVALID_TOKENS))
def test_an_invalid_token_is_refused_and_the_cache_survives(cache_ops, issuer, cached, case: str) -> None:
    make_token, reason = INVALID_TOKENS[case]
    answer = post(cache_ops, make_token(issuer))
    assert_refused(answer, 401)
    assert reason.lower() in answer.json()["detail"].lower()
    assert cached()


def test_a_valid_token_of_a_sender_not_allowed_is_forbidden(cache_ops, issuer, cached) -> None:
    answer = post(cache_ops, issuer.token(NOT_ALLOWED, AUDIENCE))
    assert_refused(answer, 403)
    assert NOT_ALLOWED in answer.json()["detail"]
    assert cached()


def test_an_allowed_sender_is_obeyed(cache_ops, issuer, cached) -> None:
    answer = post(cache_ops, issuer.token(ALLOWED, AUDIENCE))
    assert answer.status_code == 200, answer.text
    assert not cached()


def test_probes_and_metrics_stay_open_and_count_the_refusals(cache_ops) -> None:
    post(cache_ops)
    assert httpx.get(cache_ops.url + "health/ready", timeout=10).status_code == 200
    metrics = httpx.get(cache_ops.url + "metrics", timeout=10)
    assert metrics.status_code == 200 and 't2b_event_senders_refused_total{status="401"}' in metrics.text


# --- the JWKS as a pod reads it ---------------------------------------------------------------------------


@dataclass
class ApiServer:
    url: str
    account: Path  # the pod's projected volume: token and ca.crt
    bearers: list[str]  # the Authorization headers it was sent


@pytest.fixture
def api_server(issuer: LocalIssuer, tmp_path: Path) -> Iterator[ApiServer]:
    """A stand-in for the API server's /openid/v1/jwks (there is no Kubernetes here): HTTPS under a cluster
    CA of its own, answering 401 unless the bearer is the service account's current token."""
    account = tmp_path / "serviceaccount"
    account.mkdir()
    cert_file, key_file = self_signed_for_loopback(account, "kubernetes")
    (account / "token").write_text("projected-token-1\n")
    body = json.dumps(issuer.jwks).encode()
    bearers: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            bearers.append(self.headers.get("Authorization", ""))
            allowed = bearers[-1] == f"Bearer {(account / 'token').read_text().strip()}"
            self.send_response(200 if allowed else 401)
            self.send_header("Content-Length", str(len(body) if allowed else 0))
            self.end_headers()
            if allowed:
                self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ApiServer(f"https://127.0.0.1:{server.server_address[1]}/openid/v1/jwks", account, bearers)
    server.shutdown()
    server.server_close()


def verifier(keys: jwt.PyJWKClient) -> SenderVerifier:
    return SenderVerifier(AUDIENCE, "t2b-local-dispatcher", frozenset({ALLOWED}), keys)


def test_a_pod_reads_the_jwks_with_its_rotating_token_under_the_cluster_ca(api_server, issuer) -> None:
    keys = ClusterJWKS(api_server.url, api_server.account)
    assert verifier(keys).verify(f"Bearer {issuer.token(ALLOWED, AUDIENCE)}") == ALLOWED
    (api_server.account / "token").write_text("projected-token-2\n")  # the kubelet rotated it
    keys.fetch_data()
    assert api_server.bearers == ["Bearer projected-token-1", "Bearer projected-token-2"]


def test_signing_keys_out_of_reach_answer_503_to_retry_not_401(api_server, issuer) -> None:
    untrusted = ClusterJWKS(api_server.url)  # the system's CAs do not know the cluster's
    with pytest.raises(Unavailable):
        verifier(untrusted).verify(f"Bearer {issuer.token(ALLOWED, AUDIENCE)}")
    (api_server.account / "token").unlink()
    with pytest.raises(Unavailable):
        verifier(ClusterJWKS(api_server.url, api_server.account)).verify(f"Bearer {issuer.token(ALLOWED, AUDIENCE)}")


# --- the names the cluster uses -------------------------------------------------------------------------


# knative.dev/pkg kmeta/names_test.go's vectors for ChildName, which names a Trigger's OIDC service account
CHILD_NAMES = [
    ("asdf", "-deployment", "asdf-deployment"),
    ("f" * 63, "-deployment", "ffffffffffffffffffff105d7597f637e83cc711605ac3ea4957-deployment"),
    ("f" * 63, "f" * 63, "fffffffffffffffffffffffffffffff0502661254f13c89973cb3a83e0cbec0"),
    ("a", "f" * 63, "ab5cfd486935decbc0d305799f4ce4414ffffffffffffffffffffffffffffff"),
    ("b" * 32, "f" * 32, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb329c7c81b9ab3ba71aa139066aa5625d"),
    ("aaaa", "b---a" * 20, "aaaa7a3f7966594e3f0849720eced8212c18b---ab---ab---ab---ab---ab"),
    ("a" * 17, "a" + ".-" * 6 + "." + "a" * 37, "aaaaaaaaaaaaaaaaaa1eb10dc911444f8434af83b7225442da"),
]


@pytest.mark.parametrize(("parent", "suffix", "expected"), CHILD_NAMES)
def test_sender_identities_are_named_as_knative_names_them(parent: str, suffix: str, expected: str) -> None:
    assert child_name(parent, suffix) == expected
    assert oidc_identity("Trigger", "ping", "ns") == "system:serviceaccount:ns:ping-oidc-eventing.knative.dev-trigger"


def test_every_event_service_expects_its_triggers_audience_and_allows_exactly_its_senders() -> None:
    routing = load_routing()
    for name in routing.services:
        text = (REPO / "knative" / "base" / "services" / f"{name}.yaml").read_text()
        assert f"value: {audience_of(name, NAMESPACE)}\n" in text, f"{name} does not expect its audience"
        assert f"value: {','.join(senders_of(name, routing, NAMESPACE))}\n" in text, f"{name}: other senders"
    for trigger in routing.triggers:
        assert trigger.subscriber_audience == audience_of(trigger.subscriber_service, NAMESPACE), trigger.name
        assert trigger.delivery.dead_letter_audience == audience_of("dead-letter", NAMESPACE), trigger.name


# --- through RabbitMQ, as `t2b up` delivers --------------------------------------------------------------


@pytest.fixture
def transport(amqp_url: str, configure, tmp_path: Path, prefix: str) -> Iterator[RabbitTransport]:
    """`t2b up`'s RabbitMQ transport serving cache-ops and the dead-letter sink, on a migrated store."""
    configure(REDIS_URL=REDIS, REDIS_KEY_PREFIX=prefix, AMQP_URL=amqp_url, EVENTS_BACKOFF_SCALE="0.01")
    migrate.upgrade(get_settings().resolved_database_url)
    transport = RabbitTransport(amqp_url, load_routing(), NAMESPACE)
    transport.start(specs("cache-ops", "dead-letter"))
    yield transport
    transport.stop()


def dead_letters() -> list[DeadLetter]:
    with transaction(engine_for(get_settings().resolved_database_url)) as session:
        return list(session.scalars(select(DeadLetter)))


@pytest.mark.rabbitmq
def test_deliveries_through_rabbitmq_are_signed_while_a_direct_post_is_refused(
    transport: RabbitTransport, amqp_url: str, cached, prefix: str
) -> None:
    cache_ops = next(f for f in transport.functions if f.spec.name == "cache-ops")
    assert_refused(post(cache_ops), 401)
    assert cached()

    poison = make_event(CACHE_INVALIDATE, {"scope": "stats"}, source="/tests/forged")
    poison = CloudEvent(poison.get_attributes(), {"scope": "everything"})  # no such scope: 400, dead-lettered
    publisher = RabbitPublisher(amqp_url, load_routing())
    try:
        publisher.publish_many([invalidate_stats(), poison])
    finally:
        publisher.close()
    wait_until(lambda: not cached(), 20, "cache-ops did not drop the key for a signed delivery")
    # the dead-letter sink verifies too: the letter reached it with a token for its own audience
    wait_until(lambda: [row.event_id for row in dead_letters()] == [poison["id"]], 20, "no dead letter stored")
    assert dead_letters()[0].error_code == 400
