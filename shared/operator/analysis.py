"""The challenger's health from Prometheus, and what a verdict does to the binding's status.

Each analysis runs the spec's two PromQL templates (error ratio, p99 latency in milliseconds) for
the challenger's revision. Prometheus unreachable, an error answer or no samples yet is
*Inconclusive*: it neither counts as a failure nor resets the count, because a monitoring outage
says nothing about the model (Flagger counts it as a failure; a flaky Prometheus would then roll
back every challenger). `failureThreshold` Failed verdicts in a row roll the challenger back;
a Healthy verdict resets the count and, once `challenger.interval` has passed since the last step,
moves the challenger to its next step.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import Any

import httpx

from shared.operator.plan import ROLLED_BACK, parse_time, timestamp
from shared.operator.spec import Analysis, BindingSpec

QUERY_PATH = "/api/v1/query"
QUERY_TIMEOUT_S = 5.0
HEALTHY, FAILED, INCONCLUSIVE = "Healthy", "Failed", "Inconclusive"


@dataclass(frozen=True)
class Verdict:
    result: str
    message: str
    error_ratio: float | None = None
    p99_latency_ms: float | None = None


class PrometheusUnavailable(RuntimeError):
    pass


def render(template: str, namespace: str, revision: str, window_s: float) -> str:
    """A PromQL template with $namespace, $revision and $window filled in ($$ is a literal $)."""
    window = f"{max(int(window_s), 1)}s"
    return Template(template).substitute(namespace=namespace, revision=revision, window=window)


def analysis_due(spec: BindingSpec, status: dict[str, Any], now: datetime) -> bool:
    """An analysis runs while a challenger gets traffic, once per `analysis.interval`."""
    challenger = status.get("challenger") or {}
    if spec.suspend or not challenger.get("percent"):
        return False
    last = (status.get("lastAnalysis") or {}).get("time")
    return last is None or (now - parse_time(last)).total_seconds() >= spec.analysis.interval_s


def judge(analysis: Analysis, error_ratio: float | None, p99_latency_ms: float | None) -> Verdict:
    if error_ratio is None or p99_latency_ms is None:
        return Verdict(INCONCLUSIVE, "no samples for the challenger yet", error_ratio, p99_latency_ms)
    failed = []
    if error_ratio > analysis.max_error_ratio:
        failed.append(f"error ratio {error_ratio:.4f} > {analysis.max_error_ratio:g}")
    if p99_latency_ms > analysis.max_p99_latency_ms:
        failed.append(f"p99 latency {p99_latency_ms:.0f}ms > {analysis.max_p99_latency_ms:g}ms")
    if failed:
        return Verdict(FAILED, "; ".join(failed), error_ratio, p99_latency_ms)
    return Verdict(
        HEALTHY, f"error ratio {error_ratio:.4f}, p99 latency {p99_latency_ms:.0f}ms", error_ratio, p99_latency_ms
    )


def apply_verdict(
    spec: BindingSpec, status: dict[str, Any], verdict: Verdict, generation: int, now: datetime
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The status after a verdict, and the rejection entry when it rolls the challenger back."""
    status = copy.deepcopy(status)
    last: dict[str, Any] = {"time": timestamp(now), "result": verdict.result, "message": verdict.message}
    if verdict.error_ratio is not None:
        last["errorRatio"] = verdict.error_ratio
    if verdict.p99_latency_ms is not None:
        last["p99LatencyMs"] = verdict.p99_latency_ms
    status["lastAnalysis"] = last
    challenger = status.get("challenger") or {}
    if verdict.result == FAILED:
        status["failedChecks"] = int(status.get("failedChecks", 0)) + 1
        if status["failedChecks"] >= spec.analysis.failure_threshold:
            rejection = {
                "version": challenger.get("version"),
                "role": "challenger",
                "cause": ROLLED_BACK,
                "message": f"{status['failedChecks']} failed analyses in a row, last: {verdict.message}",
                "generation": generation,
            }
            status["rejected"] = [*status.get("rejected", []), rejection]
            return status, rejection
    elif verdict.result == HEALTHY:
        status["failedChecks"] = 0
        schedule = spec.challenger.schedule
        step = int(challenger.get("step", 0))
        since = challenger.get("lastStepTime")
        step_over = since is not None and (now - parse_time(since)).total_seconds() >= spec.challenger.interval_s
        if step < len(schedule) - 1 and step_over:
            status["challenger"] = {
                **challenger,
                "step": step + 1,
                "percent": schedule[step + 1],
                "lastStepTime": timestamp(now),
            }
    return status, None


async def query_scalar(client: httpx.AsyncClient, prometheus_url: str, promql: str) -> float | None:
    """One instant query; None when it has no sample (or NaN, e.g. 0/0 with no traffic)."""
    try:
        response = await client.get(
            prometheus_url.rstrip("/") + QUERY_PATH, params={"query": promql}, timeout=QUERY_TIMEOUT_S
        )
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {prometheus_url}: {type(exc).__name__}") from None
    if response.status_code != 200 or body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus answered {response.status_code}: {body.get('error', '')}".strip())
    result = body["data"]["result"]
    if body["data"].get("resultType") == "scalar":
        value = float(result[1])
    elif result:
        value = float(result[0]["value"][1])
    else:
        return None
    return None if math.isnan(value) else value


async def analyse(client: httpx.AsyncClient, spec: BindingSpec, namespace: str, revision: str) -> Verdict:
    analysis = spec.analysis
    window = analysis.interval_s
    try:
        error_ratio = await query_scalar(
            client, analysis.prometheus_url, render(analysis.error_ratio_query, namespace, revision, window)
        )
        latency = await query_scalar(
            client, analysis.prometheus_url, render(analysis.latency_query, namespace, revision, window)
        )
    except PrometheusUnavailable as exc:
        return Verdict(INCONCLUSIVE, f"{exc} (counted neither as a failure nor a success)")
    return judge(analysis, error_ratio, latency)
