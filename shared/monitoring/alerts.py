"""The alert rules, once: rendered as a PrometheusRule for the operator and as a plain rules file
for promtool and for installs without the operator (`t2b dashboards render`).

Thresholds are module constants so that the promtool tests (monitoring/prometheus/tests/) and the
runbook-style annotations name the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ERROR_RATIO_THRESHOLD = 0.05
P99_SECONDS_THRESHOLD = 1.0
QUEUE_BACKLOG_MINUTES = 10
ETL_MAX_AGE_DAYS = 3
TRAINING_MAX_AGE_DAYS = 8
DRIFT_SHARE_THRESHOLD = 0.3
# Live quality: the model's RPS over the last N settled matches may trail the market by this much.
LIVE_RPS_GAP_THRESHOLD = 0.005
LIVE_MIN_SETTLED_MATCHES = 50


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    summary: str
    severity: str = "warning"
    for_: str = "0m"

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity, "team": "time2bet"},
            "annotations": {"summary": self.summary},
        }


GROUPS: dict[str, list[Alert]] = {
    "time2bet-functions": [
        Alert(
            "FunctionErrorRatioHigh",
            'sum by (function) (rate(t2b_http_requests_total{status=~"5.."}[5m]))'
            " / sum by (function) (rate(t2b_http_requests_total[5m]))"
            f" > {ERROR_RATIO_THRESHOLD}",
            f"{{{{ $labels.function }}}} answers more than {ERROR_RATIO_THRESHOLD:.0%} of requests with 5xx",
            severity="critical",
            for_="5m",
        ),
        Alert(
            "FunctionLatencyP99High",
            "histogram_quantile(0.99, sum by (function, le) (rate(t2b_http_request_seconds_bucket[5m])))"
            f" > {P99_SECONDS_THRESHOLD}",
            f"{{{{ $labels.function }}}} p99 latency above {P99_SECONDS_THRESHOLD} s",
            for_="10m",
        ),
    ],
    "time2bet-events": [
        Alert(
            "DeadLettersGrowing",
            "sum by (type, subscriber) (increase(t2b_events_dead_lettered_total[15m])) > 0",
            "{{ $labels.type }} events for {{ $labels.subscriber }} are going to the dead-letter sink",
        ),
        # Neither the local gauge nor RabbitMQ's quorum queues carry a per-message timestamp, so the
        # backlog's age is bounded from below: a queue that never emptied over the window holds
        # messages at least that old (with FIFO delivery the head is the oldest).
        Alert(
            "EventQueueBacklogOld",
            f"max by (queue) (min_over_time(t2b_event_queue_depth[{QUEUE_BACKLOG_MINUTES}m])) > 0"
            f" or max by (queue) (min_over_time(rabbitmq_queue_messages_ready[{QUEUE_BACKLOG_MINUTES}m])) > 0",
            f"{{{{ $labels.queue }}}} has not been empty for {QUEUE_BACKLOG_MINUTES} minutes",
            for_="5m",
        ),
    ],
    "time2bet-pipeline": [
        Alert(
            "ScrapeRunsBlocked",
            'sum by (source) (increase(t2b_ingest_runs_total{source="whoscored", status="blocked"}[6h])) > 0',
            "WhoScored blocked scrape runs in the last 6 h",
        ),
        Alert(
            "ScrapeRunsFailing",
            'sum by (source) (increase(t2b_ingest_runs_total{source="whoscored", status="failed"}[6h])) > 0'
            ' unless on (source) sum by (source) (increase(t2b_ingest_runs_total{status="succeeded"}[6h])) > 0',
            "every WhoScored scrape run of the last 6 h failed",
        ),
        Alert(
            "NoSuccessfulEtl",
            f"time() - max(t2b_ingest_last_success_timestamp_seconds) > {ETL_MAX_AGE_DAYS} * 86400",
            f"no import or scrape succeeded in {ETL_MAX_AGE_DAYS} days",
            severity="critical",
        ),
        Alert(
            "NoSuccessfulTraining",
            f"time() - max(t2b_training_last_success_timestamp_seconds) > {TRAINING_MAX_AGE_DAYS} * 86400",
            f"no model version registered in {TRAINING_MAX_AGE_DAYS} days",
        ),
    ],
    "time2bet-model": [
        Alert(
            "ServingVersionNotChampion",
            'max by (name, version) (t2b_model_info{alias="champion"})'
            ' unless on (name, version) max by (name, version) (t2b_registry_alias_info{alias="champion"})',
            "a function serves {{ $labels.name }} v{{ $labels.version }}, which is not the registry's champion",
            for_="15m",
        ),
        Alert(
            "DriftShareHigh",
            f"max(t2b_drift_share) > {DRIFT_SHARE_THRESHOLD}",
            f"more than {DRIFT_SHARE_THRESHOLD:.0%} of the logged features drifted from the training reference",
        ),
        Alert(
            "LiveQualityWorseThanMarket",
            '(t2b_live_rps{forecaster="model"} - ignoring (forecaster) t2b_live_rps{forecaster="market"})'
            f" > {LIVE_RPS_GAP_THRESHOLD}"
            f" and on (model_version) t2b_live_settled_matches >= {LIVE_MIN_SETTLED_MATCHES}",
            f"model v{{{{ $labels.model_version }}}} trails the market by more than {LIVE_RPS_GAP_THRESHOLD} RPS"
            " over its last settled matches",
        ),
    ],
}


def alerts() -> list[Alert]:
    return [alert for group in GROUPS.values() for alert in group]


def rule_groups() -> list[dict[str, Any]]:
    return [{"name": name, "rules": [alert.rule() for alert in group]} for name, group in GROUPS.items()]


def prometheus_rule(name: str = "time2bet-alerts") -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "time2bet", "release": "prometheus"}},
        "spec": {"groups": rule_groups()},
    }
