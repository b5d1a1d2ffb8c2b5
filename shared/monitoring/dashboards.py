"""The Grafana dashboards, built with grafana-foundation-sdk and rendered to JSON by `t2b dashboards render`.

Every panel query filters on the `namespace` variable (Prometheus adds the label on Kubernetes; the
local scrape config sets it); function panels also on `function`, model panels on `model_version`.
Series from Kubernetes, Knative, RabbitMQ and node exporters (`CLUSTER_ONLY_PREFIXES`) exist only
in a cluster; the rest are the functions' own metrics and are proven against `t2b up` by
tests/monitoring/test_prometheus.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import common as gc
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as gcm
from grafana_foundation_sdk.models import dashboard as gm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from shared.monitoring import alerts

DATASOURCE = gm.DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace=~"$namespace"'
FN = f'{NS}, function=~"$function"'
MV = f'{NS}, model_version=~"$model_version"'
RATE = "$__rate_interval"
CLUSTER_ONLY_PREFIXES = (
    "kube_",
    "node_",
    "container_",
    "rabbitmq_",
    "revision_",
    "autoscaler_",
    "activator_",
    "argo_",
)
GREEN, YELLOW, RED = "green", "yellow", "red"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: Sequence[Query]
    unit: str = "short"
    # (value, colour) steps above the green base; empty = no thresholds drawn
    thresholds: Sequence[tuple[float, str]] = ()
    kind: str = "timeseries"  # timeseries | stat | table
    description: str = ""
    width: int = 12


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    rows: dict[str, Sequence[Panel]] = field(default_factory=dict)


def _thresholds(steps: Sequence[tuple[float, str]]) -> gd.ThresholdsConfig:
    return (
        gd.ThresholdsConfig()
        .mode(gm.ThresholdsMode.ABSOLUTE)
        .steps([gm.Threshold(value=None, color=GREEN), *(gm.Threshold(value=v, color=c) for v, c in steps)])
    )


def _panel_builder(panel: Panel) -> Any:
    builders = {"timeseries": timeseries.Panel, "stat": stat.Panel, "table": table.Panel}
    builder = builders[panel.kind]().title(panel.title).datasource(DATASOURCE).unit(panel.unit).span(panel.width)
    builder = builder.height(8).thresholds(_thresholds(panel.thresholds))
    if panel.description:
        builder = builder.description(panel.description)
    if panel.kind == "timeseries" and panel.thresholds:
        builder = builder.thresholds_style(gc.GraphThresholdsStyleConfig().mode(gcm.GraphThresholdsStyleMode.LINE))
    for ref, query in zip("ABCDEFGH", panel.queries, strict=False):
        target = prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref).datasource(DATASOURCE)
        if panel.kind == "table":
            target = target.instant().format(PromQueryFormat.TABLE)
        builder = builder.with_target(target)
    return builder


def _variables(with_function: bool, with_model_version: bool) -> list[Any]:
    variables: list[Any] = [
        gd.DatasourceVariable("datasource").label("Prometheus").type("prometheus"),
        _query_variable("namespace", "Namespace", "label_values(up, namespace)"),
    ]
    if with_function:
        variables.append(
            _query_variable("function", "Function", f"label_values(t2b_http_requests_total{{{NS}}}, function)")
        )
    if with_model_version:
        variables.append(_query_variable("model_version", "Model version", "label_values(t2b_model_info, version)"))
    return variables


def _query_variable(name: str, label: str, query: str) -> gd.QueryVariable:
    return (
        gd.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": query, "refId": f"{name}-values"})
        .refresh(gm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(gm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def build(board: Board) -> dict[str, Any]:
    queries = [q.expr for panels in board.rows.values() for panel in panels for q in panel.queries]
    builder = (
        gd.Dashboard(board.title)
        .uid(board.uid)
        .description(board.description)
        .tags(["time2bet"])
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("utc")
    )
    for variable in _variables(
        with_function=any("$function" in q for q in queries),
        with_model_version=any("$model_version" in q for q in queries),
    ):
        builder = builder.with_variable(variable)
    for row, panels in board.rows.items():
        builder = builder.with_row(gd.Row(row))
        for panel in panels:
            builder = builder.with_panel(_panel_builder(panel))
    rendered = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for panel_id, panel in enumerate(rendered["panels"], start=1):  # the SDK leaves rows at id 0
        panel["id"] = panel_id
    return rendered


def _quantile(q: float, metric: str, by: str, selector: str) -> Query:
    return Query(
        f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
        f"p{round(q * 100)} {{{{{by}}}}}",
    )


INFERENCE = Board(
    "t2b-inference",
    "Time2Bet / Inference",
    "Request rate, latency, errors, cache tiers, the model version served, instances and cold starts.",
    {
        "Traffic": [
            Panel(
                "Requests by function",
                [Query(f"sum by (function) (rate(t2b_http_requests_total{{{FN}}}[{RATE}]))", "{{function}}")],
                unit="reqps",
            ),
            Panel(
                "Latency p50 / p95 / p99",
                [_quantile(q, "t2b_http_request_seconds", "function", FN) for q in (0.5, 0.95, 0.99)],
                unit="s",
                thresholds=[(0.5, YELLOW), (alerts.P99_SECONDS_THRESHOLD, RED)],
            ),
            Panel(
                "Non-2xx answers by function and status",
                [
                    Query(
                        f'sum by (function, status) (rate(t2b_http_requests_total{{{FN}, status!~"2.."}}[{RATE}]))',
                        "{{function}} {{status}}",
                    )
                ],
                unit="reqps",
            ),
            Panel(
                "5xx ratio",
                [
                    # `or ... * 0`: a function without 5xx shows 0 %, not "no data"
                    Query(
                        f'(sum by (function) (rate(t2b_http_requests_total{{{FN}, status=~"5.."}}[{RATE}]))'
                        f" or sum by (function) (rate(t2b_http_requests_total{{{FN}}}[{RATE}])) * 0)"
                        f" / sum by (function) (rate(t2b_http_requests_total{{{FN}}}[{RATE}]))",
                        "{{function}}",
                    )
                ],
                unit="percentunit",
                thresholds=[(0.01, YELLOW), (alerts.ERROR_RATIO_THRESHOLD, RED)],
            ),
        ],
        "Predictions": [
            Panel(
                "Cache hit ratio per tier",
                [
                    Query(
                        f'sum by (cache) (rate(t2b_cache_operations_total{{{NS}, result="hit"}}[{RATE}]))'
                        f' / sum by (cache) (rate(t2b_cache_operations_total{{{NS}, result=~"hit|miss"}}[{RATE}]))',
                        "{{cache}}",
                    )
                ],
                unit="percentunit",
                thresholds=[(0.5, YELLOW), (0.8, GREEN)],
            ),
            Panel(
                "Predictions by most likely outcome",
                [Query(f"sum by (outcome) (rate(t2b_predictions_total{{{FN}}}[{RATE}]))", "{{outcome}}")],
                unit="reqps",
            ),
            Panel(
                "Model version served",
                [Query(f'max by (name, alias, version) (t2b_model_info{{{NS}, version=~"$model_version"}})')],
                kind="table",
            ),
            Panel(
                "Prediction log backlog and drops",
                [
                    Query(f"sum(t2b_prediction_log_backlog{{{NS}}})", "rows waiting"),
                    Query(f"sum(increase(t2b_prediction_log_dropped_total{{{NS}}}[{RATE}]))", "rows dropped"),
                ],
                thresholds=[(1000, YELLOW), (10000, RED)],
            ),
        ],
        "Instances": [
            Panel(
                "Processes started in the last hour (cold starts)",
                [Query(f"count by (service) (process_start_time_seconds{{{NS}}} > time() - 3600)", "{{service}}")],
                kind="stat",
                thresholds=[(5, YELLOW), (20, RED)],
            ),
            Panel(
                "Knative pods per function",
                [
                    Query(
                        'sum by (configuration_name) (autoscaler_actual_pods{namespace_name=~"$namespace",'
                        ' configuration_name=~"$function"})',
                        "{{configuration_name}}",
                    )
                ],
            ),
            Panel(
                "queue-proxy requests by function",
                [
                    Query(
                        "sum by (configuration_name, response_code_class) (rate(revision_request_count"
                        f'{{namespace_name=~"$namespace", configuration_name=~"$function"}}[{RATE}]))',
                        "{{configuration_name}} {{response_code_class}}",
                    )
                ],
                unit="reqps",
            ),
            Panel(
                "Scale-from-zero wait: p95 of requests the Knative activator held",
                [
                    Query(
                        "histogram_quantile(0.95, sum by (configuration_name, le) (rate("
                        'activator_request_latencies_bucket{namespace_name=~"$namespace",'
                        f' configuration_name=~"$function"}}[{RATE}])))',
                        "{{configuration_name}}",
                    )
                ],
                unit="ms",
                description="A function scaled to zero is woken by the activator, which holds its requests"
                " until a pod is ready.",
                thresholds=[(1000, YELLOW), (5000, RED)],
            ),
            Panel(
                "Memory per process",
                [Query(f"max by (job, service) (process_resident_memory_bytes{{{NS}}})", "{{job}} {{service}}")],
                unit="bytes",
                thresholds=[(400e6, YELLOW), (500e6, RED)],
            ),
        ],
    },
)

EVENTS = Board(
    "t2b-events",
    "Time2Bet / Events and queues",
    "Trigger queues (depth and backlog), publish and delivery rates, retries and dead letters.",
    {
        "Queues": [
            Panel(
                "Ready messages per Trigger queue",
                [
                    Query(f"max by (queue) (t2b_event_queue_depth{{{NS}}})", "{{queue}}"),
                    Query(f"sum by (queue) (rabbitmq_queue_messages_ready{{{NS}}})", "{{queue}} (RabbitMQ)"),
                ],
                thresholds=[(100, YELLOW), (1000, RED)],
            ),
            Panel(
                "Backlog held for 10 minutes (smallest depth over 10 min)",
                [Query(f"max by (queue) (min_over_time(t2b_event_queue_depth{{{NS}}}[10m]))", "{{queue}}")],
                description="Above zero: the queue never emptied in 10 minutes, so its head is at least that old.",
                thresholds=[(1, RED)],
            ),
        ],
        "Flow": [
            Panel(
                "Published by type",
                [Query(f"sum by (type, broker) (rate(t2b_events_published_total{{{NS}}}[{RATE}]))", "{{type}}")],
                unit="ops",
            ),
            Panel(
                "Delivered by subscriber and outcome",
                [
                    Query(
                        f"sum by (subscriber, outcome) (rate(t2b_events_processed_total{{{NS}}}[{RATE}]))",
                        "{{subscriber}} {{outcome}}",
                    )
                ],
                unit="ops",
            ),
            Panel(
                "Failed delivery attempts (retries) and RabbitMQ redeliveries",
                [
                    Query(
                        f"sum by (subscriber, kind) (rate(t2b_event_delivery_failures_total{{{NS}}}[{RATE}]))",
                        "{{subscriber}} {{kind}}",
                    ),
                    Query(f"sum(rate(rabbitmq_global_messages_redelivered_total{{{NS}}}[{RATE}]))", "redelivered"),
                ],
                unit="ops",
            ),
            Panel(
                "Dead letters in the last hour",
                [
                    Query(
                        f"sum by (type, subscriber) (increase(t2b_events_dead_lettered_total{{{NS}}}[1h]))",
                        "{{type}} → {{subscriber}}",
                    )
                ],
                thresholds=[(1, RED)],
            ),
            Panel(
                "Dispatch time p95 (retries included)",
                [_quantile(0.95, "t2b_event_dispatch_seconds", "subscriber", NS)],
                unit="s",
                thresholds=[(5, YELLOW), (30, RED)],
            ),
        ],
    },
)

WORKFLOWS = Board(
    "t2b-workflows",
    "Time2Bet / Workflows",
    "Imports, scrapes and training: runs by outcome, time since the last success, Argo workflows.",
    {
        "Runs": [
            Panel(
                "Ingest runs by source and status (1 h)",
                [
                    Query(
                        f"sum by (source, status) (increase(t2b_ingest_runs_total{{{NS}}}[1h]))",
                        "{{source}} {{status}}",
                    )
                ],
            ),
            Panel(
                "Since the last successful import or scrape",
                [
                    Query(
                        f"time() - max by (source) (t2b_ingest_last_success_timestamp_seconds{{{NS}}})",
                        "{{source}}",
                    )
                ],
                unit="s",
                kind="stat",
                thresholds=[(86400, YELLOW), (alerts.ETL_MAX_AGE_DAYS * 86400, RED)],
            ),
            Panel(
                "Since the last registered model version",
                [Query(f"time() - max(t2b_training_last_success_timestamp_seconds{{{NS}}})", "training")],
                unit="s",
                kind="stat",
                thresholds=[(7 * 86400, YELLOW), (alerts.TRAINING_MAX_AGE_DAYS * 86400, RED)],
            ),
        ],
        "Argo": [
            Panel(
                "Workflows by phase",
                [Query(f"sum by (phase) (argo_workflows_gauge{{{NS}}})", "{{phase}}")],
            ),
            Panel(
                "CronWorkflows triggered",
                [
                    Query(
                        f"sum by (name) (increase(argo_workflows_cronworkflows_triggered_total{{{NS}}}[1h]))",
                        "{{name}}",
                    )
                ],
            ),
        ],
    },
)

MODEL_QUALITY = Board(
    "t2b-model-quality",
    "Time2Bet / Model quality",
    "Live RPS and log loss against the pre-kickoff market over the last settled matches, and drift.",
    {
        "Live quality": [
            Panel(
                "Live RPS: model vs market (lower is better)",
                [
                    Query(
                        f'max by (model_version, forecaster) (t2b_live_rps{{{NS}, model_version=~"$model_version"}})',
                        "v{{model_version}} {{forecaster}}",
                    )
                ],
                unit="none",
            ),
            Panel(
                "Live log loss: model vs market",
                [
                    Query(
                        f"max by (model_version, forecaster) "
                        f'(t2b_live_log_loss{{{NS}, model_version=~"$model_version"}})',
                        "v{{model_version}} {{forecaster}}",
                    )
                ],
                unit="none",
            ),
            Panel(
                "RPS gap to the market (model minus market)",
                [
                    Query(
                        f'max by (model_version) (t2b_live_rps{{{MV}, forecaster="model"}})'
                        f' - max by (model_version) (t2b_live_rps{{{MV}, forecaster="market"}})',
                        "v{{model_version}}",
                    )
                ],
                thresholds=[(0.0, YELLOW), (alerts.LIVE_RPS_GAP_THRESHOLD, RED)],
            ),
            Panel(
                "Settled matches in the window",
                [
                    Query(
                        f'max by (model_version) (t2b_live_settled_matches{{{NS}, model_version=~"$model_version"}})',
                        "v{{model_version}}",
                    )
                ],
                kind="stat",
            ),
        ],
        "Drift": [
            Panel(
                "Drift share (features drifted / features)",
                [Query(f"max(t2b_drift_share{{{NS}}})", "drift share")],
                unit="percentunit",
                kind="stat",
                thresholds=[(0.1, YELLOW), (alerts.DRIFT_SHARE_THRESHOLD, RED)],
            ),
            Panel(
                "Drift score per feature (p-value or distance of its test)",
                [Query(f"max by (feature) (t2b_drift_feature_score{{{NS}}})", "{{feature}}")],
                kind="table",
            ),
            Panel(
                "Serving vs registry champion",
                [
                    Query(f'max by (name, version) (t2b_model_info{{{NS}, alias="champion"}})', "serving v{{version}}"),
                    Query(
                        f'max by (name, version) (t2b_registry_alias_info{{{NS}, alias="champion"}})',
                        "champion v{{version}}",
                    ),
                ],
                kind="table",
            ),
        ],
    },
)

INFRASTRUCTURE = Board(
    "t2b-infrastructure",
    "Time2Bet / Infrastructure",
    "kube-state-metrics and node-exporter of the cluster (the seed's `monitoring` namespace).",
    {
        "Kubernetes": [
            Panel(
                "Pods by phase",
                [Query(f"sum by (phase) (kube_pod_status_phase{{{NS}}})", "{{phase}}")],
            ),
            Panel(
                "Container restarts (1 h)",
                [Query(f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{NS}}}[1h]))", "{{pod}}")],
                thresholds=[(1, YELLOW), (5, RED)],
            ),
            Panel(
                "Deployments missing replicas",
                [
                    Query(
                        f"sum by (deployment) (kube_deployment_spec_replicas{{{NS}}})"
                        f" - sum by (deployment) (kube_deployment_status_replicas_available{{{NS}}})",
                        "{{deployment}}",
                    )
                ],
                thresholds=[(1, RED)],
            ),
        ],
        "Nodes": [
            Panel(
                "CPU busy per node",
                [Query(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[{RATE}]))', "{{instance}}")],
                unit="percentunit",
                thresholds=[(0.7, YELLOW), (0.9, RED)],
            ),
            Panel(
                "Memory used per node",
                [Query("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{instance}}")],
                unit="percentunit",
                thresholds=[(0.8, YELLOW), (0.9, RED)],
            ),
            Panel(
                "Disk used per mount",
                [
                    Query(
                        '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}'
                        ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay"}',
                        "{{instance}} {{mountpoint}}",
                    )
                ],
                unit="percentunit",
                thresholds=[(0.8, YELLOW), (0.9, RED)],
            ),
            Panel(
                "Network received per node",
                [
                    Query(
                        f'sum by (instance) (rate(node_network_receive_bytes_total{{device!="lo"}}[{RATE}]))',
                        "{{instance}}",
                    )
                ],
                unit="Bps",
            ),
        ],
    },
)

BOARDS = (INFERENCE, EVENTS, WORKFLOWS, MODEL_QUALITY, INFRASTRUCTURE)


def dashboards() -> list[dict[str, Any]]:
    return [build(board) for board in BOARDS]


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) of every panel target in a rendered dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        if panel.get("type") != "row"
        for target in panel.get("targets", [])
    ]


def configmap(dashboard: dict[str, Any], text: str) -> dict[str, Any]:
    """A ConfigMap Grafana's dashboard sidecar picks up by its `grafana_dashboard` label."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"grafana-dashboard-{dashboard['uid']}",
            "labels": {"grafana_dashboard": "1", "app.kubernetes.io/name": "time2bet"},
            "annotations": {"grafana_folder": "Time2Bet"},
        },
        "data": {f"{dashboard['uid']}.json": text},
    }
