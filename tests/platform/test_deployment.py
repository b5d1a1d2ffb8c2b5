"""What `kubectl apply -k knative/overlays/<env>` would create, checked offline (no cluster here).

Every overlay is built with the real `kubectl kustomize` (Debian package `kubectl`); the objects are
validated (Kubernetes' kinds with kubernetes-validate at v1.32, the rest strictly against the
vendored upstream CRDs or a CRD the overlay itself installs) and held to the platform's policy. The
Kubernetes API is the only part faked: nothing is applied.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.platform.crd_validation import CRD_FILES, errors, is_core_kind, strict
from tests.platform.deployment import KNATIVE, OVERLAYS, build, function_services, is_knative_service, key, pods
from tests.services import REPO

Objects = list[dict[str, Any]]

# Objects that something other than the overlay creates, each with who makes it.
CREATED_ELSEWHERE = {
    ("Secret", "istio-system", "time2bet-tls"): "cert-manager's gateway-shim, from the Gateway's annotation",
    ("ServiceAccount", "*", "default"): "Kubernetes, in every namespace",
    ("Service", "istio-system", "knative-local-gateway"): "Knative's net-gateway-api install",
}
# Containers whose server does not speak HTTP, so their probes open the port instead.
NON_HTTP_CONTAINERS = {"redis": "Redis speaks RESP"}
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL|_KEY$", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Objects]:
    return request.param, build(request.param, tmp_path_factory.mktemp("kustomize"))


def index(objects: Objects) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {key(document): document for document in objects}


def exists(objects: Objects, kind: str, namespace: str, name: str) -> bool:
    if (kind, namespace, name) in CREATED_ELSEWHERE or (kind, "*", name) in CREATED_ELSEWHERE:
        return True
    return (kind, namespace, name) in index(objects)


# --- the overlays build and validate --------------------------------------------------------------------


def test_there_are_dev_and_prod_overlays() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_the_platform_folders_are_deployed_whole(overlay: tuple[str, Objects]) -> None:
    """Every object under knative/infra, knative/routing and the functions' Services reaches each overlay."""
    name, objects = overlay
    deployed = {(document["kind"], document["metadata"]["name"]) for document in objects}
    for folder in ("infra", "routing", "base/services", "base/eventing"):
        for path in sorted((KNATIVE / folder).rglob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                if document and document.get("kind") != "Kustomization":
                    item = (document["kind"], document["metadata"]["name"])
                    assert item in deployed, f"{name}: {path.relative_to(REPO)} {item} is not in the overlay"


def _crd_validators(objects: Objects) -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """Validators for the custom resources whose CRD the overlay installs itself (e.g. ModelBinding)."""
    validators = {}
    for crd in (document for document in objects if document["kind"] == "CustomResourceDefinition"):
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = dict(version["schema"]["openAPIV3Schema"])
            schema["properties"] = {
                **{name: value for name, value in schema.get("properties", {}).items() if name != "status"},
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
            }
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(strict(schema))
    return validators


def test_every_object_validates_against_its_schema(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    own_crds = _crd_validators(objects)
    problems = []
    for document in objects:
        type_ = (document["apiVersion"], document["kind"])
        if type_ in own_crds:
            found = [error.message for error in own_crds[type_].iter_errors(document)]
        elif type_ in CRD_FILES or is_core_kind(document):
            found = errors(document)
        else:
            found = ["no schema: add its upstream CRD to tests/schemas and tests/platform/crd_validation.py"]
        problems += [f"{'/'.join(key(document))}: {line}" for line in found]
    assert problems == [], f"{name}:\n" + "\n".join(problems)


def test_overlays_put_each_part_in_its_namespace(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    where = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("namespace") for d in objects}
    expected = {
        ("RabbitmqCluster", "rabbitmq"): "soccer-api",
        ("Deployment", "redis"): "soccer-api",
        ("Cluster", "pg"): "ds",
        ("StatefulSet", "minio"): "ds",
        ("Deployment", "mlflow"): "ds",
        ("ConfigMap", "artifact-repositories"): "ds",
    }
    for item, namespace in expected.items():
        assert where.get(item) == namespace, f"{name}: {item} in {where.get(item)}"
    for document in objects:
        if is_knative_service(document) or document["kind"] in {"Broker", "Trigger", "PingSource"}:
            assert document["metadata"]["namespace"] == "soccer-api", "/".join(key(document))
    namespaces = {document["metadata"]["name"] for document in objects if document["kind"] == "Namespace"}
    assert {"soccer-api", "ds", "monitoring"} <= namespaces


# --- policy ---------------------------------------------------------------------------------------------


def _images(objects: Objects) -> Iterator[tuple[str, str]]:
    for pod in pods(objects):
        for container in pod.containers():
            yield pod.where, container.get("image", "")
    for document in objects:
        image = document.get("spec", {}).get("imageName") or document.get("spec", {}).get("image")
        if isinstance(image, str):
            yield "/".join(key(document)), image


def test_every_image_is_pinned_to_a_version(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    version = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    assert version
    for where, image in _images(objects):
        assert image, f"{name}: {where} has no image"
        tag = image.rsplit("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2]
        assert "@sha256:" in image or (tag and tag != "latest"), f"{name}: {where} runs {image!r}"
        if image.startswith("ghcr.io/time2bet/"):  # our own images: the project's version
            assert tag == version.group(1), f"{name}: {where} runs {image}, the project is {version.group(1)}"


def test_no_latest_tag_in_the_dockerfile_or_the_overlays() -> None:
    texts = {"Dockerfile": (REPO / "Dockerfile").read_text()}
    texts |= {str(p.relative_to(REPO)): p.read_text() for p in (KNATIVE / "overlays").rglob("*.yaml")}
    texts |= {str(p.relative_to(REPO)): p.read_text() for p in (KNATIVE / "infra").rglob("*.yaml")}
    for where, text in texts.items():
        assert not re.search(r"\S:latest\b", text), f"{where} names a :latest image"


def test_every_long_running_container_has_requests_limits_and_probes(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    problems = []
    for pod in pods(objects):
        for container in pod.spec.get("containers", []):
            where = f"{name}: {pod.where} container {container['name']}"
            resources = container.get("resources", {})
            for section in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(section, {})):
                    problems.append(f"{where}: no cpu and memory {section}")
            if not pod.long_running:
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                handler = container.get(probe)
                if not handler:
                    problems.append(f"{where}: no {probe}")
                elif "httpGet" not in handler and container["name"] not in NON_HTTP_CONTAINERS:
                    problems.append(f"{where}: {probe} is not an HTTP probe")
    for document in objects:  # operator-managed servers size their pods from spec.resources
        if document["kind"] in {"Cluster", "RabbitmqCluster"}:
            resources = document["spec"].get("resources", {})
            if not (resources.get("requests") and resources.get("limits")):
                problems.append(f"{name}: {'/'.join(key(document))} has no requests and limits")
    assert problems == [], "\n".join(problems)


def test_every_function_probes_health_not_metrics(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for document in function_services(objects):
        container = document["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", document["metadata"]["name"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", document["metadata"]["name"]


def _setting(pod_spec: dict[str, Any], container: dict[str, Any], field: str) -> Any:
    """A securityContext field as Kubernetes resolves it: the container's, else the pod's."""
    own = container.get("securityContext", {})
    return own[field] if field in own else pod_spec.get("securityContext", {}).get(field)


def test_every_container_runs_restricted(overlay: tuple[str, Objects]) -> None:
    """Pod Security "restricted" plus a read-only root filesystem, for every container we ship."""
    name, objects = overlay
    problems = []
    for pod in pods(objects):
        for container in pod.containers():
            where = f"{name}: {pod.where} container {container['name']}"
            context = container.get("securityContext", {})
            if _setting(pod.spec, container, "runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if _setting(pod.spec, container, "runAsUser") == 0:
                problems.append(f"{where}: runs as uid 0")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: the root filesystem is writable")
            if "ALL" not in context.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities are not dropped")
            seccomp = _setting(pod.spec, container, "seccompProfile") or {}
            if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:
                problems.append(f"{where}: no RuntimeDefault seccomp profile")
    assert problems == [], "\n".join(problems)


def test_service_accounts_have_no_token_unless_they_call_the_api(overlay: tuple[str, Objects]) -> None:
    _, objects = overlay
    for document in function_services(objects):
        spec = document["spec"]["template"]["spec"]
        account = ("ServiceAccount", document["metadata"]["namespace"], spec["serviceAccountName"])
        assert spec["serviceAccountName"] == document["metadata"]["name"], "one identity per function"
        assert index(objects)[account].get("automountServiceAccountToken") is False, account


def test_no_secret_value_is_in_git() -> None:
    tracked = subprocess.run(["git", "ls-files", "knative"], cwd=REPO, capture_output=True, text=True, check=True)
    for relative in tracked.stdout.split():
        path = REPO / relative
        assert not relative.endswith(".env"), f"{relative} is committed"
        if path.suffix == ".yaml":
            for document in yaml.safe_load_all(path.read_text()):
                if isinstance(document, dict) and document.get("kind") == "Secret":  # JSON patches are lists
                    assert not document.get("data") and not document.get("stringData"), f"{relative} holds a Secret"
        if path.name.endswith(".env.example") or path.suffix in {".yaml", ".env"}:
            for line in path.read_text().splitlines():
                match = CREDENTIALS_IN_URL.search(line)
                assert not match or "CHANGE-ME" in line, f"{relative}: credentials in {line.strip()!r}"
    examples = list((KNATIVE / "overlays").rglob("*.env.example"))
    assert examples
    for example in examples:
        real = example.with_suffix("")
        ignored = subprocess.run(["git", "check-ignore", "-q", str(real)], cwd=REPO)
        assert ignored.returncode == 0, f"{real.relative_to(REPO)} is not git-ignored"


def test_secret_settings_are_read_by_key_never_as_plain_values(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    for pod in pods(objects):
        for container in pod.containers():
            for variable in container.get("env", []):
                if "value" in variable:
                    assert not SECRETISH.search(variable["name"]), f"{name}: {pod.where} sets {variable['name']}"
                    assert not CREDENTIALS_IN_URL.search(variable["value"]), f"{name}: {pod.where} {variable['name']}"
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, f"{name}: {pod.where} takes a whole Secret (use secretKeyRef)"
    for document in objects:
        if document["kind"] == "ConfigMap":
            for field, value in (document.get("data") or {}).items():
                assert not CREDENTIALS_IN_URL.search(value), f"{name}: ConfigMap {document['metadata']['name']} {field}"


def _references(document: dict[str, Any], namespace: str) -> Iterator[tuple[str, str, str, str]]:
    """(kind, namespace, name, where) of every ConfigMap, Secret and ServiceAccount an object names."""
    where = "/".join(key(document))
    for pod in pods([document]):
        yield "ServiceAccount", namespace, pod.spec.get("serviceAccountName", "default"), where
        for volume in pod.spec.get("volumes", []):
            if "configMap" in volume:
                yield "ConfigMap", namespace, volume["configMap"]["name"], where
            if "secret" in volume:
                yield "Secret", namespace, volume["secret"]["secretName"], where
        for container in pod.containers():
            for source in container.get("envFrom", []):
                for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if field in source and not source[field].get("optional"):
                        yield kind, namespace, source[field]["name"], where
            for variable in container.get("env", []):
                value_from = variable.get("valueFrom", {})
                for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field in value_from and not value_from[field].get("optional"):
                        yield kind, namespace, value_from[field]["name"], where
    yield from _custom_references(document, namespace, where)


def _custom_references(document: dict[str, Any], namespace: str, where: str) -> Iterator[tuple[str, str, str, str]]:
    spec = document.get("spec", {})
    if document["kind"] == "Cluster":
        yield "Secret", namespace, spec["bootstrap"]["initdb"]["secret"]["name"], where
        credentials = spec.get("backup", {}).get("barmanObjectStore", {}).get("s3Credentials", {})
        for field in ("accessKeyId", "secretAccessKey"):
            yield "Secret", namespace, credentials[field]["name"], where
    if document["kind"] in {"RoleBinding", "ClusterRoleBinding"}:
        for subject in document.get("subjects", []):
            if subject["kind"] == "ServiceAccount":
                yield "ServiceAccount", subject.get("namespace", namespace), subject["name"], where
    if document["kind"] == "ConfigMap" and document["metadata"]["name"] == "artifact-repositories":
        for repository in document["data"].values():
            s3 = yaml.safe_load(repository).get("s3", {})
            for field in ("accessKeySecret", "secretKeySecret"):
                yield "Secret", namespace, s3[field]["name"], where
    if document["kind"] == "Gateway":
        for listener in spec.get("listeners", []):
            for reference in listener.get("tls", {}).get("certificateRefs", []):
                yield "Secret", reference.get("namespace", namespace), reference["name"], where


def test_every_referenced_config_map_secret_and_service_account_exists(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    missing = [
        f"{where} needs {kind} {namespace}/{target}"
        for document in objects
        for kind, namespace, target, where in _references(document, document["metadata"].get("namespace", ""))
        if not exists(objects, kind, namespace, target)
    ]
    assert missing == [], f"{name}:\n" + "\n".join(missing)


def _ref_exists(objects: Objects, reference: dict[str, Any], namespace: str) -> bool:
    kind = reference["kind"]
    found = index(objects).get((kind, reference.get("namespace", namespace), reference["name"]))
    return found is not None and found["apiVersion"] == reference["apiVersion"]


def test_every_trigger_subscriber_and_dead_letter_sink_exists(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    triggers = [document for document in objects if document["kind"] == "Trigger"]
    assert triggers
    for document in objects:
        namespace, spec = document["metadata"].get("namespace", ""), document.get("spec", {})
        where = f"{name}: {'/'.join(key(document))}"
        if document["kind"] == "Trigger":
            assert _ref_exists(objects, spec["subscriber"]["ref"], namespace), f"{where}: no subscriber"
            assert exists(objects, "Broker", namespace, spec["broker"]), f"{where}: no broker {spec['broker']}"
        if document["kind"] in {"Trigger", "Broker"}:
            sink = spec.get("delivery", {}).get("deadLetterSink")
            assert sink and _ref_exists(objects, sink["ref"], namespace), f"{where}: no dead-letter sink"
        if document["kind"] == "Broker":
            assert _ref_exists(objects, {**spec["config"], "namespace": namespace}, namespace), f"{where}: config"
        if document["kind"] == "RabbitmqBrokerConfig":
            cluster = spec["rabbitmqClusterReference"]["name"]
            assert exists(objects, "RabbitmqCluster", namespace, cluster), f"{where}: no RabbitmqCluster {cluster}"
        if document["kind"] == "PingSource":
            assert _ref_exists(objects, spec["sink"]["ref"], namespace), f"{where}: no sink"


# --- routing and network --------------------------------------------------------------------------------


def _granted(objects: Objects, route_namespace: str, backend: dict[str, Any]) -> bool:
    for grant in (document for document in objects if document["kind"] == "ReferenceGrant"):
        if grant["metadata"]["namespace"] != backend["namespace"]:
            continue
        spec = grant["spec"]
        allowed_from = any(f["kind"] == "HTTPRoute" and f["namespace"] == route_namespace for f in spec["from"])
        allowed_to = any(t["kind"] == "Service" and t.get("name") in {None, backend["name"]} for t in spec["to"])
        if allowed_from and allowed_to:
            return True
    return False


def test_routes_reach_existing_services_through_the_gateway(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    services = {(d["metadata"]["name"], d["metadata"]["namespace"]) for d in objects if is_knative_service(d)}
    routed = set()
    for route in (document for document in objects if document["kind"] == "HTTPRoute"):
        namespace = route["metadata"]["namespace"]
        for parent in route["spec"]["parentRefs"]:
            assert exists(objects, "Gateway", parent.get("namespace", namespace), parent["name"]), route["metadata"]
        for rule in route["spec"]["rules"]:
            hosts = [f["urlRewrite"]["hostname"] for f in rule.get("filters", []) if f["type"] == "URLRewrite"]
            assert len(hosts) == 1, f"{name}: {route['metadata']['name']} must rewrite the Host to one Service"
            service, service_namespace, *_ = hosts[0].split(".")
            assert (service, service_namespace) in services, f"{name}: {hosts[0]} is no Knative Service"
            routed.add(service)
            for backend in rule["backendRefs"]:
                backend = {**backend, "namespace": backend.get("namespace", namespace)}
                assert exists(objects, "Service", backend["namespace"], backend["name"])
                assert backend["namespace"] == namespace or _granted(objects, namespace, backend), backend
    for document in objects:
        if is_knative_service(document):
            labels = document["metadata"].get("labels", {})
            local = labels.get("networking.knative.dev/visibility") == "cluster-local"
            if labels.get("time2bet.io/kind") == "event":
                assert local and document["metadata"]["name"] not in routed, f"{name}: event function exposed"
            elif not local:
                assert document["metadata"]["name"] in routed, f"{name}: {document['metadata']['name']} has no route"


def test_every_namespace_with_pods_denies_ingress_by_default(overlay: tuple[str, Objects]) -> None:
    name, objects = overlay
    with_pods = {pod.namespace for pod in pods(objects)} | {
        document["metadata"]["namespace"] for document in objects if document["kind"] in {"Cluster", "RabbitmqCluster"}
    }
    for namespace in with_pods:
        policies = [d for d in objects if d["kind"] == "NetworkPolicy" and d["metadata"].get("namespace") == namespace]
        assert any(
            p["spec"]["podSelector"] == {} and "ingress" not in p["spec"] and "Ingress" in p["spec"]["policyTypes"]
            for p in policies
        ), f"{name}: {namespace} has no default-deny ingress policy"


# --- what differs between dev and prod ------------------------------------------------------------------


def _min_scale(document: dict[str, Any]) -> str:
    return document["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"]


def test_dev_scales_everything_to_zero_with_small_requests(tmp_path: Path) -> None:
    objects = build("dev", tmp_path)
    for document in filter(is_knative_service, objects):
        assert _min_scale(document) == "0", document["metadata"]["name"]
        requests = document["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        assert requests["memory"] == "128Mi", document["metadata"]["name"]


def test_prod_keeps_predict_warm_and_sized_with_budgets(tmp_path: Path) -> None:
    objects = build("prod", tmp_path)
    predict = index(objects)[("Service", "soccer-api", "predict")]
    assert _min_scale(predict) == "1"
    container = predict["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["memory"] == "192Mi" and container["image"].startswith("ghcr.io/")
    assert container["readinessProbe"], "the prod patch must not replace the container"
    budgets = [document for document in objects if document["kind"] == "PodDisruptionBudget"]
    assert budgets
    labelled = [
        pod.owner["spec"]["template"]["metadata"].get("labels", {})
        for pod in pods(objects)
        if pod.owner["kind"] in {"Deployment", "StatefulSet"}
    ]
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        operator_pods = selector == {"app.kubernetes.io/name": "rabbitmq"}  # the cluster operator labels its pods
        assert operator_pods or any(selector.items() <= labels.items() for labels in labelled), budget["metadata"]
    replicas = {key(d): d["spec"].get("replicas", d["spec"].get("instances")) for d in objects if "spec" in d}
    assert replicas[("Cluster", "ds", "pg")] == 3 and replicas[("RabbitmqCluster", "soccer-api", "rabbitmq")] == 3
