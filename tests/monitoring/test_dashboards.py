"""Dashboards as code: the committed JSON and ConfigMaps are what the code renders, and every panel
has a data source, a query, a unit and, where set, thresholds in the right order."""

from __future__ import annotations

import json

import yaml

from shared.monitoring import dashboards, render
from tests.services import REPO

RENDERED = {board["uid"]: board for board in dashboards.dashboards()}


def _panels(board: dict) -> list[dict]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def test_the_five_dashboards_are_committed_as_rendered() -> None:
    assert set(RENDERED) == {"t2b-inference", "t2b-events", "t2b-workflows", "t2b-model-quality", "t2b-infrastructure"}
    for uid, board in RENDERED.items():
        committed = json.loads((REPO / render.DASHBOARDS_DIR / f"{uid}.json").read_text())
        assert committed == board, f"{uid}: run `t2b dashboards render`"


def test_configmaps_carry_the_sidecar_label_and_the_same_json() -> None:
    for uid, board in RENDERED.items():
        configmap = yaml.safe_load((REPO / render.KUSTOMIZE_DIR / "dashboards" / f"{uid}.yaml").read_text())
        assert configmap["kind"] == "ConfigMap"
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(configmap["data"][f"{uid}.json"]) == board
    kustomization = yaml.safe_load((REPO / render.KUSTOMIZE_DIR / "kustomization.yaml").read_text())
    assert {f"dashboards/{uid}.yaml" for uid in RENDERED} <= set(kustomization["resources"])


def test_variables_namespace_function_and_model_version() -> None:
    for board in RENDERED.values():
        names = [variable["name"] for variable in board["templating"]["list"]]
        assert names[:2] == ["datasource", "namespace"]
        queries = [expr for _, expr in dashboards.panel_queries(board)]
        for variable in ("function", "model_version"):
            assert (variable in names) == any(f"${variable}" in expr for expr in queries), (board["uid"], variable)
    assert {"function", "model_version"} <= {v["name"] for v in RENDERED["t2b-inference"]["templating"]["list"]}


def test_every_panel_has_a_query_a_unit_and_ordered_thresholds() -> None:
    for board in RENDERED.values():
        for panel in _panels(board):
            where = f"{board['uid']} / {panel['title']}"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            assert panel["targets"] and all(target["expr"] for target in panel["targets"]), where
            assert panel["fieldConfig"]["defaults"]["unit"], where
            steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps[0]["value"] is None, where
            values = [step["value"] for step in steps[1:]]
            assert values == sorted(values), where


def test_alerting_numbers_and_dashboard_thresholds_agree() -> None:
    inference = {panel["title"]: panel for panel in _panels(RENDERED["t2b-inference"])}
    latency = inference["Latency p50 / p95 / p99"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert latency[-1] == {"color": "red", "value": 1.0}
    assert [t["expr"].count("histogram_quantile") for t in inference["Latency p50 / p95 / p99"]["targets"]] == [1, 1, 1]
