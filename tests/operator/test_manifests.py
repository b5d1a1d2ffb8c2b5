"""The operator's manifests (knative/base/operator/), offline: core kinds with kubernetes-validate, the
example ModelBinding against the CRD's own schema, the Services the operator writes against Knative's."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shared.operator.plan import pinned_template, split_traffic
from shared.operator.spec import BindingSpec
from tests.platform.crd_validation import documents, errors, strict
from tests.services import REPO

OPERATOR = REPO / "knative" / "base" / "operator"
CORE_FILES = ["crd.yaml", "rbac.yaml", "deployment.yaml"]


def crd() -> dict[str, Any]:
    return next(documents(OPERATOR / "crd.yaml"))


def schema() -> dict[str, Any]:
    return crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def binding_errors(document: dict[str, Any]) -> list[str]:
    """Strict validation of a ModelBinding manifest (no status) against the CRD's openAPIV3Schema."""
    manifest_schema = copy.deepcopy(schema())
    manifest_schema["properties"].pop("status")
    validator = jsonschema.Draft7Validator(strict(manifest_schema))
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def example() -> dict[str, Any]:
    return next(documents(OPERATOR / "modelbinding-predict.yaml"))


@pytest.mark.parametrize("name", CORE_FILES)
def test_core_kinds_pass_kubernetes_validate_strictly(name: str) -> None:
    for document in documents(OPERATOR / name):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_kustomization_lists_every_file_and_the_base_lists_it() -> None:
    listed = yaml.safe_load((OPERATOR / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in OPERATOR.glob("*.yaml") if p.name != "kustomization.yaml")
    assert "operator" in yaml.safe_load((OPERATOR.parent / "kustomization.yaml").read_text())["resources"]


def test_the_example_binding_matches_the_crd_schema() -> None:
    assert binding_errors(example()) == []
    parsed = BindingSpec.parse(example()["spec"])
    assert parsed.service == "predict" and parsed.challenger.schedule == (5, 10, 25)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("challenger", "percent"), 60, "is greater than the maximum of 50"),
        (("challenger", "interval"), "5 minutes", "does not match"),
        (("champion", "version"), "latest", "does not match"),
        (("analysis", "maxErrorRatio"), 1.5, "is greater than the maximum of 1"),
        (("analysis", "failureThreshold"), 0, "is less than the minimum of 1"),
        (("service",), "Predict_", "does not match"),
        (("challenger", "percnt"), 10, "Additional properties are not allowed"),
    ],
)
def test_the_schema_rejects_bad_specs(path: tuple[str, ...], value: Any, message: str) -> None:
    document = example()
    node = document["spec"]
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    assert any(message in line for line in binding_errors(document)), binding_errors(document)


def test_model_and_service_are_required() -> None:
    document = example()
    del document["spec"]["model"]
    assert any("'model' is a required property" in line for line in binding_errors(document))


def _defaults(node: dict[str, Any]) -> dict[str, Any]:
    return {key: value["default"] for key, value in node["properties"].items() if "default" in value}


def test_crd_defaults_are_the_ones_the_operator_applies() -> None:
    spec = schema()["properties"]["spec"]["properties"]
    applied = {"model": "m", "service": "s", **_defaults(schema()["properties"]["spec"])}
    for section in ("champion", "challenger", "analysis"):
        applied[section] = _defaults(spec[section])
    assert BindingSpec.parse(applied) == BindingSpec.parse({"model": "m", "service": "s"})


def test_status_has_the_phases_conditions_and_printer_columns_the_issue_names() -> None:
    status = schema()["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == ["Progressing", "Ready", "RolledBack", "Failed", "Suspended"]
    condition_types = status["conditions"]["items"]["properties"]["type"]["enum"]
    assert condition_types == ["RegistryReachable", "RevisionsReady", "AnalysisHealthy"]
    version = crd()["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column["jsonPath"] for column in version["additionalPrinterColumns"]}
    assert list(columns) == ["Champion", "Challenger", "Traffic", "Phase", "Age"]
    for path in columns.values():
        parts = path.lstrip(".").split(".")
        if parts[0] == "status":
            node = schema()["properties"]["status"]
            for part in parts[1:]:
                node = node["properties"][part]  # KeyError = a column showing a field that does not exist


def test_services_the_operator_writes_match_the_knative_crd() -> None:
    predict = REPO / "knative" / "base" / "services" / "predict.yaml"
    service = next(document for document in documents(predict) if document["kind"] == "Service")
    service["spec"]["template"] = pinned_template(service["spec"]["template"], "predict-v7", "7")
    service["spec"]["traffic"] = split_traffic("predict-v6", "predict-v7", 10)
    assert errors(service) == []
    env = service["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MODEL_VERSION", "value": "7"} in env


def test_the_deployment_runs_t2b_operator_run_with_a_kopf_liveness_probe() -> None:
    deployment = next(documents(OPERATOR / "deployment.yaml"))
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] + container["args"][:2] == ["t2b", "operator", "run"]
    liveness = container["args"][container["args"].index("--liveness") + 1]
    assert liveness.endswith(container["livenessProbe"]["httpGet"]["path"])
    role_binding = next(d for d in documents(OPERATOR / "rbac.yaml") if d["kind"] == "RoleBinding")
    assert role_binding["subjects"][0]["name"] == pod["serviceAccountName"]
