"""Who sent an event: Knative Eventing's OIDC sender identity, checked by the event functions, and a local
issuer standing in for the cluster's so that the local RabbitMQ dispatcher signs its deliveries the same way.

With Knative's `authentication-oidc` feature a sender attaches `Authorization: Bearer <JWT>`: a Kubernetes
service-account token of its own identity (one service account per Trigger) whose `aud` is the target's
audience (a Trigger's `subscriber.audience`). An event function with EVENTS_OIDC_VERIFY checks, before
reading the body, the signature against the cluster's JWKS (the API server's /openid/v1/jwks, fetched with
the pod's projected token and the cluster CA and cached by PyJWKClient), the issuer, the audience and the
expiry — else 401 — and then that the token's subject is one of EVENTS_OIDC_ALLOWED_SENDERS — else 403. The
allow-list is what makes the check worth having: any pod may mint a token for any audience with its own
service account, so a valid token alone says nothing about who may deliver.

Audiences and sender identities are spelled as Knative spells them (`audience_of`, `oidc_identity`), and who
may deliver to a Service is read from the routing manifests (`senders_of`), so the rendered Services, the
Triggers and the local runtime agree by construction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio.to_thread
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import Counter
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.config import Settings, get_settings
from shared.errors import Forbidden, FunctionError, Unauthenticated, Unavailable
from shared.events.metrics import _metric
from shared.events.routing import RoutingTable

log = logging.getLogger("time2bet.events.auth")

# Asymmetric algorithms only: a JWKS never holds the secret of an HMAC key, and accepting "HS256" with a
# public key as the secret is the classic forgery.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})
REQUIRED_CLAIMS = ["exp", "iss", "aud", "sub"]
CLOCK_SKEW_SECONDS = 30
JWKS_TIMEOUT_SECONDS = 5.0  # a fetch holds up the delivery that needed it
JWKS_PATH = "/openid/v1/jwks"  # where the API server serves it; the local issuer serves the same path
# The HTTP header of the credentials; dispatchers merge it into a delivery's headers.
AUTHORIZATION = "Authorization"

SENDERS_REFUSED = _metric(
    Counter,
    "t2b_event_senders_refused",
    "Deliveries an event function refused before reading them; status = 401 (no valid token) | 403 (sender "
    "not allowed) | 503 (the signing keys could not be fetched)",
    ("status",),
)


# --- names, as Knative spells them ----------------------------------------------------------------


def audience_of(service: str, namespace: str) -> str:
    """The OIDC audience of a Knative Service: Knative's own form for its addressables, group/kind/ns/name."""
    return f"serving.knative.dev/service/{namespace}/{service}"


def oidc_identity(kind: str, name: str, namespace: str) -> str:
    """The token subject Knative Eventing gives a Trigger or Broker (kind as in its GVK, e.g. "Trigger"):
    the service account eventing creates for it, `kmeta.ChildName(name, "-oidc-<group>-<kind>")` lowercased."""
    account = child_name(name, f"-oidc-eventing.knative.dev-{kind}").lower()
    return f"system:serviceaccount:{namespace}:{account}"


def child_name(parent: str, suffix: str) -> str:
    """knative.dev/pkg kmeta.ChildName: parent+suffix, hashed and truncated to 63 characters when longer."""
    longest, md5_length = 63, 32
    head = longest - md5_length
    if len(parent) <= longest - len(suffix):
        return parent + suffix
    if head - len(suffix) <= 0:
        name = parent[:head] + hashlib.md5((parent + suffix).encode(), usedforsecurity=False).hexdigest()
        name += suffix[: max(longest - len(name), 0)]
        return re.sub(r"[^a-zA-Z0-9]+$", "", name)
    return parent[: head - len(suffix)] + hashlib.md5(parent.encode(), usedforsecurity=False).hexdigest() + suffix


def senders_of(service: str, routing: RoutingTable, namespace: str) -> tuple[str, ...]:
    """Who delivers to a Service: the Triggers subscribing it or dead-lettering into it, and the Brokers
    whose dead-letter sink it is."""
    senders = {
        oidc_identity("Trigger", trigger.name, namespace)
        for trigger in routing.triggers
        if service in (trigger.subscriber_service, trigger.delivery.dead_letter_service)
    }
    senders |= {
        oidc_identity("Broker", broker.name, namespace)
        for broker in routing.brokers.values()
        if broker.delivery.dead_letter_service == service
    }
    return tuple(sorted(senders))


def receiver_settings(service: str, routing: RoutingTable, namespace: str) -> dict[str, str]:
    """The settings naming what one event function accepts: its audience and its senders."""
    return {
        "EVENTS_OIDC_AUDIENCE": audience_of(service, namespace),
        "EVENTS_OIDC_ALLOWED_SENDERS": ",".join(senders_of(service, routing, namespace)),
    }


# --- the receiving side ---------------------------------------------------------------------------------


class ClusterJWKS(jwt.PyJWKClient):
    """PyJWKClient (it caches the key set and refetches once for an unknown key id) for the API server's
    JWKS: the request carries the pod's service-account token, re-read on every fetch because the kubelet
    rotates a projected token, and the server's certificate is checked against the cluster CA."""

    def __init__(self, url: str, service_account_dir: Path | None = None) -> None:
        context, self._token_file = None, None
        if service_account_dir is not None:
            context = ssl.create_default_context(cafile=str(service_account_dir / "ca.crt"))
            self._token_file = service_account_dir / "token"
        super().__init__(url, timeout=JWKS_TIMEOUT_SECONDS, ssl_context=context)

    def fetch_data(self) -> Any:
        if self._token_file is not None:
            try:
                token = self._token_file.read_text().strip()
            except OSError as error:
                raise jwt.PyJWKClientConnectionError(f"cannot read {self._token_file}: {error}") from None
            self.headers = {AUTHORIZATION: f"Bearer {token}"}
        return super().fetch_data()


@dataclass(frozen=True)
class SenderVerifier:
    audience: str
    issuer: str
    allowed: frozenset[str]
    keys: jwt.PyJWKClient

    @classmethod
    def from_settings(cls, settings: Settings) -> SenderVerifier | None:
        """The verifier EVENTS_OIDC_* describe, or None when verification is off."""
        if not settings.events_oidc_verify:
            return None
        allowed = frozenset(s.strip() for s in settings.events_oidc_allowed_senders.split(",") if s.strip())
        if not settings.events_oidc_audience or not allowed:
            raise ValueError(
                "EVENTS_OIDC_VERIFY is on but EVENTS_OIDC_AUDIENCE or EVENTS_OIDC_ALLOWED_SENDERS is empty: "
                "nothing could be delivered (`t2b manifests` renders both for every event function)"
            )
        keys = ClusterJWKS(settings.events_oidc_jwks_url, settings.events_oidc_service_account_dir)
        return cls(settings.events_oidc_audience, settings.events_oidc_issuer, allowed, keys)

    def verify(self, authorization: str | None) -> str:
        """The sender of a request with this Authorization header; raises Unauthenticated (401), Forbidden
        (403), or Unavailable (503, retryable) when the signing keys cannot be fetched."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("this function takes events only from its Triggers: no bearer token")
        try:
            key = self.keys.get_signing_key_from_jwt(token)
            if key.algorithm_name not in ALGORITHMS:
                raise jwt.InvalidAlgorithmError(f"{key.algorithm_name} is not an asymmetric signature")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWKClientConnectionError as error:
            log.warning("the JWKS at %s is unavailable: %s", self.keys.uri, error)
            raise Unavailable("the cluster's signing keys are unavailable; retry later") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as error:
            raise Unauthenticated(f"the sender's token is not valid: {error}") from None
        sender = str(claims["sub"])
        if sender not in self.allowed:
            raise Forbidden(f"{sender} may not deliver events to {self.audience}")
        return sender


class SenderIdentity:
    """ASGI middleware of an event function: every request but those to `open_paths` (probes, metrics) is
    refused without a token of an allowed sender, when the settings turn verification on."""

    def __init__(self, app: ASGIApp, open_paths: frozenset[str]) -> None:
        self.app = app
        self.open_paths = open_paths
        self.verifier = SenderVerifier.from_settings(get_settings())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.verifier is None or scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        try:
            # a thread: a JWKS fetch (first token, a new key, the cache's expiry) must not hold the loop
            await anyio.to_thread.run_sync(self.verifier.verify, Headers(scope=scope).get(AUTHORIZATION))
        except FunctionError as error:
            SENDERS_REFUSED.labels(str(error.status_code)).inc()
            log.info("refused %s %s: %s", scope["method"], scope["path"], error)
            refusal = JSONResponse({"detail": str(error)}, error.status_code, error.headers())
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


# --- the sending side, locally -----------------------------------------------------------------------------


LOCAL_ISSUER = "t2b-local-dispatcher"
TOKEN_LIFETIME_SECONDS = 3600  # as Knative's token provider requests them
TOKEN_RENEW_BEFORE_SECONDS = 300


class LocalIssuer:
    """The local runtime's stand-in for the cluster's service-account issuer: an RSA key made for this run,
    tokens for any sender and audience, and the JWKS served on loopback at JWKS_PATH (as the API server does)
    for the function processes to verify against."""

    def __init__(self, issuer: str = LOCAL_ISSUER) -> None:
        self.issuer = issuer
        self.key_id = secrets.token_hex(8)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**public, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self._key, algorithm="RS256", headers={"kid": self.key_id})

    def token(self, sender: str, audience: str) -> str:
        """A token of `sender` for `audience`, reused until it nears its expiry."""
        now = time.time()
        with self._lock:
            cached = self._tokens.get((sender, audience))
            if cached is not None and cached[1] - now > TOKEN_RENEW_BEFORE_SECONDS:
                return cached[0]
            expires = now + TOKEN_LIFETIME_SECONDS
            claims = {"iss": self.issuer, "sub": sender, "aud": audience, "iat": int(now), "exp": int(expires)}
            token = self.sign(claims)
            self._tokens[(sender, audience)] = (token, expires)
            return token

    def authorization(self, sender: str, audience: str) -> dict[str, str]:
        return {AUTHORIZATION: f"Bearer {self.token(sender, audience)}"}

    def start(self) -> str:
        """Serve the JWKS on a free loopback port; returns its URL."""
        body = json.dumps(self.jwks).encode()

        class JWKSHandler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == JWKS_PATH
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, *_: object) -> None:  # one fetch per function process: not worth a line
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), JWKSHandler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="jwks", daemon=True).start()
        return self.jwks_url

    @property
    def jwks_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local issuer is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{JWKS_PATH}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receiver_environment(self, service: str, routing: RoutingTable, namespace: str) -> dict[str, str]:
        """The environment of a local event function process: verification on, against this issuer."""
        return {
            "EVENTS_OIDC_VERIFY": "true",
            "EVENTS_OIDC_ISSUER": self.issuer,
            "EVENTS_OIDC_JWKS_URL": self.jwks_url,
            # blank = unset: a cluster's token and CA from the caller's environment do not apply here
            "EVENTS_OIDC_SERVICE_ACCOUNT_DIR": "",
            **receiver_settings(service, routing, namespace),
        }


@dataclass(frozen=True)
class SenderCredentials:
    """What a dispatcher attaches to a delivery: a token of the Trigger (or Broker) it delivers for, for the
    target's audience — none when the target has no audience, as Knative does."""

    issuer: LocalIssuer
    namespace: str

    def headers(self, kind: str, name: str, audience: str | None) -> dict[str, str]:
        if audience is None:
            return {}
        return self.issuer.authorization(oidc_identity(kind, name, self.namespace), audience)
