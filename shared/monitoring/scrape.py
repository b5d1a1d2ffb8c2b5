"""What Prometheus scrapes: prometheus-operator monitors, and the same jobs as a plain prometheus.yml.

- functions: every pod of a Knative Service of the namespace; the user container's own /metrics
  (the `t2b_*` series) and queue-proxy's request metrics (`revision_*`, Knative's view of the same traffic).
- RabbitMQ: the `rabbitmq_prometheus` plugin on the cluster Service's `prometheus` port (15692).
- kube-state-metrics and node-exporter: the exporters of the seed's `monitoring` namespace.
"""

from __future__ import annotations

from typing import Any

APP_NAMESPACE = "soccer-api"  # knative/base/kustomization.yaml
MONITORING_NAMESPACE = "monitoring"
SCRAPE_INTERVAL = "30s"
# Knative names the user container's port `user-port`; queue-proxy serves request metrics on `http-usermetric`.
USER_CONTAINER_PORT = "user-port"
QUEUE_PROXY_METRICS_PORT = "http-usermetric"
RULES_FILE = "rules.yml"

_LABELS = {"app.kubernetes.io/name": "time2bet", "release": "prometheus"}


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "labels": dict(_LABELS)}


def _keep_function_label() -> list[dict[str, Any]]:
    """The Knative Service name, as `service` (the metrics' own `function` label names the code)."""
    return [{"sourceLabels": ["__meta_kubernetes_pod_label_serving_knative_dev_service"], "targetLabel": "service"}]


def monitors() -> list[dict[str, Any]]:
    functions = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _meta("time2bet-functions"),
        "spec": {
            "selector": {"matchExpressions": [{"key": "serving.knative.dev/service", "operator": "Exists"}]},
            "namespaceSelector": {"matchNames": [APP_NAMESPACE]},
            "podMetricsEndpoints": [
                {
                    "port": USER_CONTAINER_PORT,
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    "relabelings": _keep_function_label(),
                },
                {
                    "port": QUEUE_PROXY_METRICS_PORT,
                    "path": "/metrics",
                    "interval": SCRAPE_INTERVAL,
                    "relabelings": _keep_function_label(),
                },
            ],
        },
    }
    rabbitmq = _service_monitor(
        "time2bet-rabbitmq", {"app.kubernetes.io/component": "rabbitmq"}, APP_NAMESPACE, "prometheus"
    )
    kube_state = _service_monitor(
        "kube-state-metrics", {"app.kubernetes.io/name": "kube-state-metrics"}, MONITORING_NAMESPACE, "http"
    )
    node_exporter = _service_monitor(
        "node-exporter", {"app.kubernetes.io/name": "prometheus-node-exporter"}, MONITORING_NAMESPACE, "metrics"
    )
    return [functions, rabbitmq, kube_state, node_exporter]


def _service_monitor(name: str, labels: dict[str, str], namespace: str, port: str) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta(name),
        "spec": {
            "selector": {"matchLabels": labels},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": port, "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }


TARGETS_DIR = "targets"
PLAIN_JOBS = ("time2bet-functions", "time2bet-queue-proxy", "rabbitmq", "kube-state-metrics", "node-exporter")


def prometheus_config() -> dict[str, Any]:
    """The operator-less equivalent of `monitors()`, with the rules file beside it.

    Targets come from files (`targets/<job>.yml`, reloaded on change) rather than Kubernetes service
    discovery: Debian's prometheus and promtool are built without it, and an install without the
    operator is a VM or `t2b up`, where whatever deploys the processes writes their addresses.
    """
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [RULES_FILE],
        "scrape_configs": [
            {"job_name": job, "file_sd_configs": [{"files": [f"{TARGETS_DIR}/{job}.yml"], "refresh_interval": "1m"}]}
            for job in PLAIN_JOBS
        ],
    }
