"""Strict offline validation of manifests against upstream CRD schemas (vendored in tests/schemas/, see its README).

Strict = every object schema with `properties` that is not `x-kubernetes-preserve-unknown-fields`
gets `additionalProperties: false`, so a misspelt field fails instead of being pruned by the API
server. Knative eventing CRDs do not describe apiVersion/kind/metadata, so they are supplied here.
Reused by the Service, Argo and ModelBinding manifest tests.
"""

from __future__ import annotations

import copy
import gzip
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

# (apiVersion, kind) -> CRD file under SCHEMAS
CRD_FILES: dict[tuple[str, str], str] = {
    ("eventing.knative.dev/v1", "Broker"): "knative-eventing/broker.yaml",
    ("eventing.knative.dev/v1", "Trigger"): "knative-eventing/trigger.yaml",
    ("sources.knative.dev/v1", "PingSource"): "knative-eventing/pingsource.yaml",
    ("eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig"): "eventing-rabbitmq/rabbitmqbrokerconfig.yaml",
    ("sources.knative.dev/v1alpha1", "RabbitmqSource"): "eventing-rabbitmq/rabbitmqsource.yaml",
    ("serving.knative.dev/v1", "Service"): "knative-serving/service.yaml",
    ("argoproj.io/v1alpha1", "Workflow"): "argo-workflows/v4.1.2/argoproj.io_workflows.yaml",
    ("argoproj.io/v1alpha1", "WorkflowTemplate"): "argo-workflows/v4.1.2/argoproj.io_workflowtemplates.yaml",
    ("argoproj.io/v1alpha1", "CronWorkflow"): "argo-workflows/v4.1.2/argoproj.io_cronworkflows.yaml",
    ("gateway.networking.k8s.io/v1", "Gateway"): "gateway-api/v1.6.1/gateway.networking.k8s.io_gateways.yaml",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway-api/v1.6.1/gateway.networking.k8s.io_httproutes.yaml",
    ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"): (
        "gateway-api/v1.6.1/gateway.networking.k8s.io_referencegrants.yaml"
    ),
    ("postgresql.cnpg.io/v1", "Cluster"): "cloudnative-pg/v1.30.0/postgresql.cnpg.io_clusters.yaml",
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): (
        "rabbitmq-cluster-operator/v2.22.3/rabbitmq.com_rabbitmqclusters.yaml"
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "prometheus-operator/v0.93.0/monitoring.coreos.com_servicemonitors.yaml"
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): "prometheus-operator/v0.93.0/monitoring.coreos.com_podmonitors.yaml",
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "prometheus-operator/v0.93.0/monitoring.coreos.com_prometheusrules.yaml"
    ),
}

_OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "anyOf": [{"required": ["name"]}, {"required": ["generateName"]}],
}


def strict(schema: Any) -> Any:
    """A copy of an OpenAPI v3 schema that rejects unknown keys wherever the CRD is not open."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        result.setdefault("additionalProperties", False)
    return result


def read_schema(path: Path) -> str:
    """A vendored schema's text; the large ones are stored gzip-compressed beside the name."""
    if path.exists():
        return path.read_text()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes()).decode("utf-8")


def _crd_schema(crd: dict[str, Any], version: str) -> dict[str, Any]:
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return copy.deepcopy(entry["schema"]["openAPIV3Schema"])
    raise KeyError(f"{crd['metadata']['name']} has no version {version}")


@cache
def validator_for(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    try:
        path = SCHEMAS / CRD_FILES[(api_version, kind)]
    except KeyError:
        raise KeyError(f"no CRD schema known for {api_version} {kind}") from None
    # The Argo CRDs are megabytes of YAML: the libyaml loader reads them ~10x faster.
    loaded = yaml.load_all(read_schema(path), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    crd = next(doc for doc in loaded if doc and doc.get("kind") == "CustomResourceDefinition")
    schema = _crd_schema(crd, api_version.rsplit("/", 1)[-1])
    schema["properties"].pop("status", None)  # manifests never carry status
    schema["properties"].setdefault("apiVersion", {"type": "string"})
    schema["properties"].setdefault("kind", {"type": "string"})
    # Some CRDs type metadata as a bare object; a name (or generateName) is still required.
    if schema["properties"].get("metadata", {}).get("properties") is None:
        schema["properties"]["metadata"] = _OBJECT_META
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return jsonschema.Draft7Validator(strict(schema))


# Kubernetes' own kinds (ConfigMap, Deployment, RBAC, NetworkPolicy...) validate with kubernetes-validate's
# strict schemas of the version the platform targets (kubectl v1.32 here).
KUBERNETES_VERSION = "1.32"


def is_core_kind(document: dict[str, Any]) -> bool:
    group = document.get("apiVersion", "").rpartition("/")[0]
    return "." not in group or (group.endswith(".k8s.io") and not group.startswith("gateway.networking"))


def core_errors(document: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{'.'.join(str(part) for part in error.path) or '<root>'}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"no Kubernetes {KUBERNETES_VERSION} schema for {document.get('apiVersion')} {document.get('kind')}"]
    return []


def errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation of one manifest, as `path: message` lines; [] when valid."""
    if (document.get("apiVersion"), document.get("kind")) not in CRD_FILES and is_core_kind(document):
        return core_errors(document)
    validator = validator_for(document.get("apiVersion", ""), document.get("kind", ""))
    return [
        f"{'.'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    ]


def documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document
