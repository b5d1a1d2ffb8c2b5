"""Metrics read from the platform's state rather than counted in a process: ingest runs from the
store, the registry's champion and newest version, live quality from the settlements.

Batch jobs (imports, scrapes, training) end before Prometheus could scrape them, and several
functions would count the same runs, so one function (quality) exposes what the store and registry
say. A scrape reads at most every `CachedCollector.max_age_s`; a part that fails is logged and left
out, so one unreachable dependency does not hide the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from shared.config import get_settings
from shared.db.models import IngestRun, RunStatus
from shared.db.session import get_engine, transaction
from shared.monitoring import quality

log = logging.getLogger("time2bet.monitoring")

Families = Callable[[], Iterable[Metric]]


class CachedCollector(Collector):
    """Collects `parts` at most every `max_age_s` and serves the last result in between."""

    def __init__(self, parts: dict[str, Families], max_age_s: float = 15.0) -> None:
        self._parts, self._max_age_s = parts, max_age_s
        self._lock = threading.Lock()
        self._collected_at = float("-inf")
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._collected_at >= self._max_age_s:
                self._metrics = [metric for name, part in self._parts.items() for metric in _safely(name, part)]
                self._collected_at = time.monotonic()
            yield from self._metrics

    def describe(self) -> list[Metric]:
        return []  # collected on demand: registering must not touch the store


def _safely(name: str, part: Families) -> list[Metric]:
    try:
        return list(part())
    except Exception as error:  # a store or registry outage; the rest of the scrape still counts
        log.warning("monitoring metrics %s unavailable: %s", name, error)
        return []


def ingest_families() -> Iterable[Metric]:
    runs = CounterMetricFamily(
        "t2b_ingest_runs", "Ingest runs (imports, scrapes) recorded in the store", labels=["source", "status"]
    )
    last = GaugeMetricFamily(
        "t2b_ingest_last_success_timestamp_seconds", "When the last successful run of a source ended", labels=["source"]
    )
    with transaction(get_engine()) as session:
        for source, status, count in session.execute(
            select(IngestRun.source, IngestRun.status, func.count()).group_by(IngestRun.source, IngestRun.status)
        ):
            runs.add_metric([source, str(status)], count)
        for source, finished in session.execute(
            select(IngestRun.source, func.max(IngestRun.finished_at))
            .where(IngestRun.status == RunStatus.succeeded)
            .group_by(IngestRun.source)
        ):
            if finished is not None:
                last.add_metric([source], finished.timestamp())
    return [runs, last]


def registry_families() -> Iterable[Metric]:
    from shared.ml.registry import tracking_client
    from shared.serving import aliases

    settings = get_settings()
    name = settings.model_name
    champion = GaugeMetricFamily(
        "t2b_registry_alias_info", "The version a registry alias names (value 1)", labels=["name", "alias", "version"]
    )
    trained = GaugeMetricFamily(
        "t2b_training_last_success_timestamp_seconds", "When the newest model version was registered", labels=["name"]
    )
    ref = aliases.resolve(settings.resolved_mlflow_tracking_uri, name, "champion")
    champion.add_metric([name, "champion", str(ref.version)], 1)
    versions = tracking_client().search_model_versions(f"name = '{name}'")
    if versions:
        trained.add_metric([name], max(int(v.creation_timestamp) for v in versions) / 1000.0)
    return [champion, trained]


def live_quality_families() -> Iterable[Metric]:
    rps = GaugeMetricFamily(
        "t2b_live_rps",
        f"Mean RPS over the last {quality.WINDOW_MATCHES} settled matches the market priced",
        labels=["model_version", "forecaster"],
    )
    loss = GaugeMetricFamily(
        "t2b_live_log_loss",
        f"Mean log loss over the last {quality.WINDOW_MATCHES} settled matches the market priced",
        labels=["model_version", "forecaster"],
    )
    settled = GaugeMetricFamily(
        "t2b_live_settled_matches", "Settled matches in the live window", labels=["model_version"]
    )
    # the settlements as they stand: a scrape never settles (results writers and the live-quality
    # CronWorkflow do; settling scans the whole prediction log)
    with transaction(get_engine()) as session:
        versions = quality.summary(session)
    for version in versions:
        settled.add_metric([version.model_version], version.matches)
        for forecaster, rps_value, loss_value in (
            ("model", version.rps, version.log_loss),
            ("market", version.market_rps, version.market_log_loss),
        ):
            if rps_value is not None and loss_value is not None:
                rps.add_metric([version.model_version, forecaster], rps_value)
                loss.add_metric([version.model_version, forecaster], loss_value)
    return [rps, loss, settled]


def platform_collector() -> CachedCollector:
    return CachedCollector(
        {"ingest runs": ingest_families, "registry": registry_families, "live quality": live_quality_families}
    )


_registered: set[str] = set()


def register_once(name: str, collector: Callable[[], CachedCollector]) -> None:
    """Register a collector on the default registry once per process (functions share it locally)."""
    from prometheus_client import REGISTRY

    if name not in _registered:
        REGISTRY.register(collector())
        _registered.add(name)


def register_platform_collector() -> None:
    register_once("platform", platform_collector)


def drift_families() -> Iterable[Metric]:
    from shared.monitoring import drift
    from shared.storage import ObjectNotFound, get_store

    share = GaugeMetricFamily("t2b_drift_share", "Share of columns the last drift report found drifted")
    score = GaugeMetricFamily(
        "t2b_drift_feature_score",
        "Per column: the drift test's p-value (statistical tests) or distance",
        labels=["feature", "method"],
    )
    drifted = GaugeMetricFamily("t2b_drift_feature_drifted", "Per column: 1 when drifted", labels=["feature"])
    try:
        summary = drift.latest(get_store())
    except ObjectNotFound:
        return []  # no report yet: no figures rather than zeros
    share.add_metric([], summary.drift_share)
    for name, column in sorted(summary.columns.items()):
        score.add_metric([name, column.method], column.score)
        drifted.add_metric([name], float(column.drifted))
    return [share, score, drifted]


def register_drift_collector() -> None:
    register_once("drift", lambda: CachedCollector({"drift": drift_families}))
