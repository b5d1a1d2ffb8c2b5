"""Knative Services are rendered from the functions' SPECs and validate against the upstream CRD."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.runtime.functions import discover_functions
from shared.web.manifests import render_all
from tests.platform.crd_validation import errors
from tests.services import REPO

SERVICES = REPO / "knative" / "base" / "services"


def test_committed_service_manifests_match_the_specs() -> None:
    rendered = render_all([f.spec for f in discover_functions()])
    committed = {p.name: p.read_text() for p in SERVICES.glob("*.yaml")}
    assert set(committed) == set(rendered), "run `t2b manifests` after adding or removing a function"
    for name, text in rendered.items():
        stale = list(yaml.safe_load_all(committed[name])) != list(yaml.safe_load_all(text))
        assert not stale, f"{name} is stale: run `t2b manifests`"


def test_every_service_validates_strictly_against_the_knative_crd() -> None:
    for path in sorted(SERVICES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert errors(document) == [], f"{path.name}: {document['kind']}"
            if document["kind"] == "Service":  # not the event functions' ClusterRoleBinding
                annotations = document["spec"]["template"]["metadata"]["annotations"]
                assert annotations["autoscaling.knative.dev/min-scale"] == "0"  # scale to zero


def test_a_typo_in_a_service_is_rejected(tmp_path: Path) -> None:
    document = next(d for d in yaml.safe_load_all((SERVICES / "predict.yaml").read_text()) if d["kind"] == "Service")
    document["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert errors(document)
