"""Prometheus metrics every function exposes on /metrics.

Metrics are module-level so that several functions served from one process (the local runtime)
share one registry without registering twice; the `function` label tells them apart.
"""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.metrics import MetricWrapperBase

REQUESTS = Counter("t2b_http_requests_total", "HTTP requests", ["function", "route", "method", "status"])
LATENCY = Histogram(
    "t2b_http_request_seconds",
    "HTTP request latency",
    ["function", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CACHE = Counter("t2b_cache_operations_total", "Cache lookups and failures", ["cache", "result"])
MODEL_INFO = Info("t2b_model", "The model version a function serves")
MODEL_LOADS = Counter("t2b_model_loads_total", "Model loads", ["outcome"])
PREDICTIONS = Counter("t2b_predictions_total", "Predictions served by most likely outcome", ["function", "outcome"])
PREDICTION_LOG_DROPPED = Counter("t2b_prediction_log_dropped_total", "Prediction log rows that could not be stored")
PREDICTION_LOG_BACKLOG = Gauge("t2b_prediction_log_backlog", "Prediction log rows waiting to be written")


@lru_cache(maxsize=4096)
def child(metric: MetricWrapperBase, *labels: str) -> MetricWrapperBase:
    """`metric.labels(*labels)`, looked up once: labels() validates and locks on every call, a
    cost POST /predict paid five times per request."""
    return metric.labels(*labels)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
