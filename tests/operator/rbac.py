"""RBAC audit: the (apiGroup, resource, verb) triples knative/base/operator/rbac.yaml grants, and the
ones a list of requests recorded by the emulator needed. Discovery (/api, /apis, /version) is left
out: every authenticated client may read it (the cluster's system:discovery role)."""

from __future__ import annotations

from collections.abc import Iterable

import yaml
from kmock import Request

from tests.services import REPO

RBAC = REPO / "knative" / "base" / "operator" / "rbac.yaml"
Grant = tuple[str, str, str]


def granted() -> set[Grant]:
    role = next(d for d in yaml.safe_load_all(RBAC.read_text()) if d and d["kind"] == "Role")
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def verb(request: Request) -> str:
    method = request.method.value.upper()
    if method == "GET":
        if request.name:
            return "get"
        return "watch" if request.params.get("watch") in ("true", "1") else "list"
    return {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]


def used(requests: Iterable[Request]) -> set[Grant]:
    triples = set()
    for request in requests:
        if request.resource is None or request.resource.plural is None:
            continue  # discovery
        assert request.namespace == "time2bet", f"a request outside the operator's namespace: {request.url}"
        resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
        triples.add((request.resource.group or "", resource, verb(request)))
    return triples
