"""Every monitoring file rendered from code: `t2b dashboards render` writes them, a test compares.

knative/base/monitoring/  PrometheusRule, PodMonitor/ServiceMonitors, dashboard ConfigMaps (kustomize)
monitoring/prometheus/    prometheus.yml and rules.yml for installs without the operator (promtool)
monitoring/dashboards/    the Grafana dashboards as JSON, for import by hand
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from shared.monitoring import alerts, scrape

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE_DIR = Path("knative/base/monitoring")
PROMETHEUS_DIR = Path("monitoring/prometheus")
DASHBOARDS_DIR = Path("monitoring/dashboards")
HEADER = "# Rendered by `t2b dashboards render` from shared/monitoring/: edit the code, not this file.\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the dashboards' JSON in ConfigMaps) as literal blocks, readable in review."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


def to_yaml(*documents: Any) -> str:
    body = yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=1000, default_flow_style=False)
    return HEADER + body


def dashboard_files() -> dict[Path, str]:
    from shared.monitoring.dashboards import configmap, dashboards

    files: dict[Path, str] = {}
    for dashboard in dashboards():
        text = json.dumps(dashboard, indent=2, sort_keys=True) + "\n"
        files[DASHBOARDS_DIR / f"{dashboard['uid']}.json"] = text
        files[KUSTOMIZE_DIR / "dashboards" / f"{dashboard['uid']}.yaml"] = to_yaml(configmap(dashboard, text))
    return files


def rendered() -> dict[Path, str]:
    """Repository-relative path -> content."""
    files = {
        KUSTOMIZE_DIR / "prometheusrule.yaml": to_yaml(alerts.prometheus_rule()),
        KUSTOMIZE_DIR / "monitors.yaml": to_yaml(*scrape.monitors()),
        PROMETHEUS_DIR / "prometheus.yml": to_yaml(scrape.prometheus_config()),
        PROMETHEUS_DIR / scrape.RULES_FILE: to_yaml({"groups": alerts.rule_groups()}),
        **dashboard_files(),
    }
    resources = sorted(str(path.relative_to(KUSTOMIZE_DIR)) for path in files if path.is_relative_to(KUSTOMIZE_DIR))
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    files[KUSTOMIZE_DIR / "kustomization.yaml"] = to_yaml(kustomization)
    return files


def write(root: Path = REPO) -> list[Path]:
    written = []
    for relative, content in sorted(rendered().items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != content:
            path.write_text(content)
        written.append(relative)
    return written


def stale(root: Path = REPO) -> list[Path]:
    """Rendered files whose committed copy is missing or differs."""
    return [
        relative
        for relative, content in sorted(rendered().items())
        if not (root / relative).exists() or (root / relative).read_text() != content
    ]
