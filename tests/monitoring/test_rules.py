"""Alert rules and scrape configs: promtool (Debian's `prometheus` package, installed by .ci/run)
checks and unit-tests them; the operator manifests validate against the vendored CRD schemas."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shared.monitoring import alerts, render, scrape
from tests.platform import crd_validation
from tests.services import REPO, require

PROMETHEUS_DIR = REPO / render.PROMETHEUS_DIR
ALERT_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*_test.yml"))


def promtool(*arguments: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    require(binary is not None, "promtool not installed (apt-get install prometheus)")
    return subprocess.run([binary, *arguments], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_rendered_files_match_the_code() -> None:
    assert render.stale() == [], "run `t2b dashboards render` and commit the result"


def test_promtool_accepts_the_rules_and_the_plain_config() -> None:
    rules = promtool("check", "rules", scrape.RULES_FILE)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(alerts.alerts())} rules found" in rules.stdout
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", *(str(path.relative_to(PROMETHEUS_DIR)) for path in ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    cases: dict[str, set[bool]] = {}
    tests = [test for path in ALERT_TESTS for test in yaml.safe_load(path.read_text())["tests"]]
    for test in tests:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], set()).add(bool(case["exp_alerts"]))
    names = {alert.name for alert in alerts.alerts()}
    assert set(cases) == names
    assert {name for name, kinds in cases.items() if kinds != {True, False}} == set()


def test_promtool_notices_a_wrong_expectation(tmp_path: Path) -> None:
    """The unit tests can fail: flip one quiet case to expect an alert and promtool must say so."""
    document = yaml.safe_load(ALERT_TESTS[0].read_text())
    quiet = next(case for test in document["tests"] for case in test["alert_rule_test"] if not case["exp_alerts"])
    quiet["exp_alerts"] = [{"exp_labels": {"severity": "warning"}}]
    document["rule_files"] = [str(PROMETHEUS_DIR / scrape.RULES_FILE)]
    broken = tmp_path / "broken_test.yml"
    broken.write_text(yaml.safe_dump(document))
    result = promtool("test", "rules", str(broken), cwd=tmp_path)
    assert result.returncode != 0
    assert quiet["alertname"] in result.stdout + result.stderr


@pytest.mark.parametrize("path", ["prometheusrule.yaml", "monitors.yaml"])
def test_operator_manifests_validate_against_the_crds(path: str) -> None:
    documents = list(crd_validation.documents(REPO / render.KUSTOMIZE_DIR / path))
    assert documents
    for document in documents:
        assert crd_validation.errors(document) == [], document["metadata"]["name"]


def test_monitors_cover_functions_rabbitmq_and_the_cluster_exporters() -> None:
    monitors = {m["metadata"]["name"]: m for m in scrape.monitors()}
    assert set(monitors) == {"time2bet-functions", "time2bet-rabbitmq", "kube-state-metrics", "node-exporter"}
    ports = {endpoint["port"] for endpoint in monitors["time2bet-functions"]["spec"]["podMetricsEndpoints"]}
    assert ports == {scrape.USER_CONTAINER_PORT, scrape.QUEUE_PROXY_METRICS_PORT}
    assert monitors["kube-state-metrics"]["spec"]["namespaceSelector"] == {"matchNames": ["monitoring"]}


def test_a_misspelt_monitor_field_is_rejected() -> None:
    monitor = scrape.monitors()[1]
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    assert any("intervall" in error for error in crd_validation.errors(monitor))
