"""Knative Service manifests rendered from each function's SPEC, so nothing states a function twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.events.auth import receiver_settings
from shared.events.routing import RoutingTable, load_routing
from shared.function_spec import LIVENESS_PATH, READINESS_PATH, FunctionSpec

# One image per requirement set, untagged here: each overlay pins the version with kustomize `images:`.
IMAGE_REPOSITORY = "ghcr.io/time2bet"
SHARED_CONFIG = "time2bet-config"  # ConfigMap with the non-secret settings: S3_ENDPOINT, S3_BUCKET, MLFLOW_TRACKING_URI
SHARED_SECRET = "time2bet-secrets"
# Settings that carry credentials: each is read from SHARED_SECRET by key (secretKeyRef), never envFrom.
SECRET_SETTINGS = ("DATABASE_URL", "S3_ACCESS_KEY", "S3_SECRET_KEY", "REDIS_URL", "AMQP_URL")
RUN_AS_USER = 10001  # the Dockerfile's non-root user
# Routing (README "Deploy to Kubernetes"): one Gateway API HTTPRoute per HTTP function on the shared
# Gateway, matching the function's own paths and handing the request to Knative's cluster-local
# gateway with the Host rewritten to the function's cluster-local name (net-gateway-api on Istio).
FUNCTIONS_NAMESPACE = "soccer-api"  # knative/base/kustomization.yaml deploys every function there
GATEWAY = {"name": "time2bet", "namespace": "istio-system"}  # knative/routing/gateway.yaml
LOCAL_GATEWAY = {"name": "knative-local-gateway", "namespace": "istio-system", "port": 80}
# Event functions check each delivery's sender token (shared/events/auth.py) against the API server's JWKS,
# fetched with a projected service-account token (these pods' only one) and the cluster CA; the switch,
# EVENTS_OIDC_VERIFY, and the issuer are cluster-wide settings in SHARED_CONFIG.
KUBERNETES_API_CREDENTIALS = "/var/run/secrets/time2bet/kubernetes"
JWKS_READERS = "time2bet-event-functions-jwks"  # the ClusterRoleBinding letting them read it


def _probe(path: str, period_seconds: int, failure_threshold: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path},
        "periodSeconds": period_seconds,
        "timeoutSeconds": 2,
        "failureThreshold": failure_threshold,
    }


def _security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def render_service_account(spec: FunctionSpec) -> dict[str, Any]:
    """One identity per function, without the default token mount: only event functions call the Kubernetes
    API (the JWKS, with a token they project themselves)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": spec.name, "labels": {"app.kubernetes.io/name": spec.name}},
        "automountServiceAccountToken": False,
    }


def _path_match(route: str) -> dict[str, Any]:
    """A FastAPI route as a Gateway API path match: its static part as a prefix when it has parameters."""
    static = route.split("{", 1)[0].rstrip("/") or "/"
    return {"path": {"type": "PathPrefix" if "{" in route else "Exact", "value": static}}


def render_route(spec: FunctionSpec) -> dict[str, Any]:
    """The function's paths (and its OpenAPI docs) on the shared Gateway: the UI and curl use one base URL."""
    matches = [_path_match(route) for route in spec.routes]
    matches += [
        {"path": {"type": "PathPrefix", "value": f"/docs/{spec.name}"}},
        {"path": {"type": "Exact", "value": f"/openapi/{spec.name}.json"}},
    ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": spec.name, "labels": {"app.kubernetes.io/name": spec.name}},
        "spec": {
            "parentRefs": [GATEWAY],
            "rules": [
                {
                    "matches": matches,
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"hostname": f"{spec.name}.{FUNCTIONS_NAMESPACE}.svc.cluster.local"},
                        }
                    ],
                    "backendRefs": [{"kind": "Service", **LOCAL_GATEWAY}],
                    "timeouts": {"request": f"{spec.timeout_seconds}s"},
                }
            ],
        },
    }


def _sender_verification(spec: FunctionSpec, routing: RoutingTable) -> dict[str, list[dict[str, Any]]]:
    """An event function's env, volume and mount for checking who sent each delivery."""
    settings = {
        **receiver_settings(spec.name, routing, FUNCTIONS_NAMESPACE),
        "EVENTS_OIDC_SERVICE_ACCOUNT_DIR": KUBERNETES_API_CREDENTIALS,
    }
    sources = [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    ]
    return {
        "env": [{"name": name, "value": value} for name, value in settings.items()],
        "volumes": [{"name": "kubernetes-api", "projected": {"sources": sources}}],
        "volumeMounts": [{"name": "kubernetes-api", "mountPath": KUBERNETES_API_CREDENTIALS, "readOnly": True}],
    }


def render_jwks_readers(specs: list[FunctionSpec]) -> dict[str, Any]:
    """The event functions' service accounts may read the service-account issuer's discovery document and JWKS."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": JWKS_READERS},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "system:service-account-issuer-discovery",
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": spec.name, "namespace": FUNCTIONS_NAMESPACE}
            for spec in specs
            if spec.kind == "event"
        ],
    }


def render_service(spec: FunctionSpec, routing: RoutingTable) -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/name": spec.name,
        "time2bet.io/queue": spec.queue,
        "time2bet.io/kind": spec.kind,
    }
    env = [{"name": key, "valueFrom": {"secretKeyRef": {"name": SHARED_SECRET, "key": key}}} for key in SECRET_SETTINGS]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    # the root filesystem is read-only: temporary files (and HOME) go to /tmp
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    if spec.kind == "event":  # reached only through its Trigger: no route outside the cluster, only its senders
        labels["networking.knative.dev/visibility"] = "cluster-local"
        verification = _sender_verification(spec, routing)
        env, volumes, mounts = (
            env + verification["env"],
            volumes + verification["volumes"],
            mounts + verification["volumeMounts"],
        )
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {"time2bet.io/description": spec.description},
        },
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {
                        "autoscaling.knative.dev/min-scale": str(spec.scaling.min_scale),
                        "autoscaling.knative.dev/max-scale": str(spec.scaling.max_scale),
                        "autoscaling.knative.dev/target": str(spec.scaling.target_concurrency),
                        "prometheus.io/scrape": "true",
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": spec.name,
                    "automountServiceAccountToken": False,
                    "containerConcurrency": spec.scaling.container_concurrency,
                    "timeoutSeconds": spec.timeout_seconds,
                    "containers": [
                        {
                            "name": "function",
                            "image": f"{IMAGE_REPOSITORY}/{spec.requirements}",
                            "command": spec.launch_command(),
                            "ports": [{"containerPort": 8080, "name": "http1"}],
                            "envFrom": [{"configMapRef": {"name": SHARED_CONFIG}}],
                            "env": env,
                            "resources": {
                                "requests": {"cpu": spec.resources.cpu, "memory": spec.resources.memory},
                                "limits": {"cpu": spec.resources.cpu_limit, "memory": spec.resources.memory_limit},
                            },
                            "readinessProbe": _probe(READINESS_PATH, period_seconds=5, failure_threshold=3),
                            "livenessProbe": _probe(LIVENESS_PATH, period_seconds=15, failure_threshold=4),
                            "securityContext": _security_context(),
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            }
        },
    }


def documents(spec: FunctionSpec, routing: RoutingTable) -> list[dict[str, Any]]:
    """Everything one function deploys: its identity, its Service and, for HTTP, its route."""
    rendered = [render_service_account(spec), render_service(spec, routing)]
    if spec.kind == "http":
        rendered.append(render_route(spec))
    return rendered


def render_all(specs: list[FunctionSpec], routing: RoutingTable | None = None) -> dict[str, str]:
    """File name → YAML text (ServiceAccount, Service, HTTPRoute) for knative/base/services/, the event
    functions' JWKS access, and the kustomization. Who may deliver to an event function is read from the
    Triggers in `routing` (default: the committed eventing manifests)."""
    routing = routing or load_routing()
    files = {f"{spec.name}.yaml": yaml.safe_dump_all(documents(spec, routing), sort_keys=False) for spec in specs}
    files[f"{JWKS_READERS}.yaml"] = yaml.safe_dump(render_jwks_readers(specs), sort_keys=False)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = yaml.safe_dump(kustomization, sort_keys=False)
    return files


def write_all(specs: list[FunctionSpec], folder: Path, routing: RoutingTable | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all(specs, routing).items():
        path = folder / name
        path.write_text("# Generated by `t2b manifests` from the function's SPEC; do not edit.\n" + text)
        written.append(path)
    return written
