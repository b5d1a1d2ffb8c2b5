"""A ModelBinding's spec, typed, with the CRD's defaults (knative/base/operator/crd.yaml).

The API server applies the schema's defaults; parsing applies them again so the operator behaves
the same against a server that prunes nothing (the test emulator) and in unit tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

DEFAULT_ERROR_RATIO_QUERY = (
    'sum(rate(revision_app_request_count{namespace_name="$namespace",revision_name="$revision",'
    'response_code_class="5xx"}[$window])) / sum(rate(revision_app_request_count'
    '{namespace_name="$namespace",revision_name="$revision"}[$window]))'
)
DEFAULT_LATENCY_QUERY = (
    "histogram_quantile(0.99, sum by (le) (rate(revision_app_request_latencies_bucket"
    '{namespace_name="$namespace",revision_name="$revision"}[$window])))'
)


class InvalidSpec(ValueError):
    """The spec breaks a rule the CRD's schema states (a server that skipped validation let it in)."""


def seconds(duration: str) -> float:
    """`30s`, `5m`, `250ms`, `1h` → seconds."""
    match = DURATION.match(duration.strip())
    if not match:
        raise InvalidSpec(f"{duration!r} is not a duration like 30s, 5m, 250ms or 1h")
    return int(match[1]) * UNIT_SECONDS[match[2]]


@dataclass(frozen=True)
class Champion:
    alias: str = "champion"
    version: str | None = None


@dataclass(frozen=True)
class Challenger:
    alias: str = "challenger"
    percent: int = 0
    steps: tuple[int, ...] = ()
    interval_s: float = 300.0

    @property
    def schedule(self) -> tuple[int, ...]:
        """The shares the challenger passes through, ending at `percent`; () when it gets none."""
        if self.percent <= 0:
            return ()
        return (*sorted({step for step in self.steps if step < self.percent}), self.percent)


@dataclass(frozen=True)
class Analysis:
    interval_s: float = 60.0
    failure_threshold: int = 3
    max_error_ratio: float = 0.05
    max_p99_latency_ms: float = 1000.0
    prometheus_url: str = "http://prometheus-operated.monitoring.svc:9090"
    error_ratio_query: str = DEFAULT_ERROR_RATIO_QUERY
    latency_query: str = DEFAULT_LATENCY_QUERY


@dataclass(frozen=True)
class BindingSpec:
    model: str
    service: str
    champion: Champion = Champion()
    challenger: Challenger = Challenger()
    analysis: Analysis = Analysis()
    poll_interval_s: float = 30.0
    progress_deadline_s: float = 600.0
    suspend: bool = False

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> BindingSpec:
        try:
            champion = spec.get("champion") or {}
            challenger = spec.get("challenger") or {}
            analysis = spec.get("analysis") or {}
            percent = int(challenger.get("percent", 0))
            if not 0 <= percent <= 50:
                raise InvalidSpec(f"challenger.percent must be 0-50, got {percent}")
            return cls(
                model=str(spec["model"]),
                service=str(spec["service"]),
                champion=Champion(
                    alias=champion.get("alias", "champion"),
                    version=str(champion["version"]) if champion.get("version") else None,
                ),
                challenger=Challenger(
                    alias=challenger.get("alias", "challenger"),
                    percent=percent,
                    steps=tuple(int(step) for step in challenger.get("steps", ())),
                    interval_s=seconds(challenger.get("interval", "5m")),
                ),
                analysis=Analysis(
                    interval_s=seconds(analysis.get("interval", "1m")),
                    failure_threshold=int(analysis.get("failureThreshold", 3)),
                    max_error_ratio=float(analysis.get("maxErrorRatio", 0.05)),
                    max_p99_latency_ms=seconds(analysis.get("maxP99Latency", "1s")) * 1000.0,
                    prometheus_url=analysis.get("prometheusUrl", Analysis.prometheus_url),
                    error_ratio_query=analysis.get("errorRatioQuery", DEFAULT_ERROR_RATIO_QUERY),
                    latency_query=analysis.get("latencyQuery", DEFAULT_LATENCY_QUERY),
                ),
                poll_interval_s=seconds(spec.get("pollInterval", "30s")),
                progress_deadline_s=seconds(spec.get("progressDeadline", "10m")),
                suspend=bool(spec.get("suspend", False)),
            )
        except KeyError as missing:
            raise InvalidSpec(f"spec.{missing.args[0]} is required") from None
