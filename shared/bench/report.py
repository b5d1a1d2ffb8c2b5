"""The serving benchmark's figures: rich tables for people, JSON for tools, and the goals they are held to."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shared.bench.batch_scoring import BATCH_GOAL_MATCHES_PER_S, BatchScoring
from shared.bench.functions import ColdStarts, FunctionMemory
from shared.bench.load import LoadResult
from shared.bench.model_loading import ModelLoading

# Issue #19's goals: a Knative function is judged on its first request and on how few replicas carry the load.
COLD_START_GOAL_S = 0.5
# misses at least this many times MLServer's throughput, by clients
THROUGHPUT_GOAL_VS_MLSERVER = {1: 1.0, 8: 1.5, 32: 1.5}
# miss p99, by clients
MISS_P99_GOAL_MS = {8: 6.0, 32: 12.0}
RSS_GOAL_MB = 100.0
MLSERVER_FOOTNOTE = (
    "MLServer returns the booster's raw prediction (no base margin from market/Elo, no temperature, no feature "
    "building, team lookup, cache or prediction log): a smaller job than POST /predict. MLServer runs "
    "parallel_workers=0 (inference in its server process) and debug off; the function runs one uvicorn worker "
    "without access log."
)
LOADERS = {
    "wrk": "Load: wrk (C, one thread) on the same machine, replaying bodies the bench wrote.",
    "aiohttp": "Load: one Python aiohttp client process on the same machine; it competes with the server for CPU.",
}


@dataclass(frozen=True)
class WarmRow:
    server: str  # "time2bet" or "mlserver"
    cache: str  # "hit", "miss" or "none" (MLServer has no cache)
    concurrency: int
    result: LoadResult | None
    note: str | None = None  # why there is no result


@dataclass
class ServeBenchReport:
    quick: bool
    redis: str | None
    loader: str
    cold_starts: ColdStarts | None = None
    cold_starts_tracking_server: ColdStarts | None = None  # MLFLOW_TRACKING_URI of an `mlflow server`
    import_seconds: dict[str, float] = field(default_factory=dict)
    warm: list[WarmRow] = field(default_factory=list)
    memory: list[FunctionMemory] = field(default_factory=list)
    model_loading: ModelLoading | None = None
    batch_scoring: BatchScoring | None = None
    batch_scoring_skipped: str | None = None
    mlserver_skipped: str | None = None
    # Other work on the machine skews every figure; the 1-minute load average says how much there was.
    load_average: dict[str, float] = field(default_factory=lambda: {"start": os.getloadavg()[0]})

    def warm_row(self, server: str, cache: str, concurrency: int) -> LoadResult | None:
        found = [r.result for r in self.warm if (r.server, r.cache, r.concurrency) == (server, cache, concurrency)]
        return found[0] if found else None

    def goals(self) -> list[tuple[str, str, bool | None]]:
        """(goal, measured, met); met is None when the figure was not measured."""
        verdicts: list[tuple[str, str, bool | None]] = []
        if self.cold_starts:
            median = self.cold_starts.median_s
            verdicts.append(
                (
                    f"cold start ≤ {COLD_START_GOAL_S} s, embedded defaults",
                    f"median {median:.2f} s",
                    median <= COLD_START_GOAL_S,
                )
            )
        server = self.cold_starts_tracking_server
        verdicts.append(
            (
                f"cold start ≤ {COLD_START_GOAL_S} s, MLflow tracking server",
                f"median {server.median_s:.2f} s"
                if server
                else f"n/a: {self.tracking_server_skipped or 'not measured'}",
                server.median_s <= COLD_START_GOAL_S if server else None,
            )
        )
        for clients, ratio in THROUGHPUT_GOAL_VS_MLSERVER.items():
            miss, mlserver = self.warm_row("time2bet", "miss", clients), self.warm_row("mlserver", "none", clients)
            verdicts.append(
                (
                    f"misses ≥ {ratio:.1f}x MLServer's throughput at {clients} clients",
                    f"{miss.requests_per_s:,.0f} vs {mlserver.requests_per_s:,.0f} req/s "
                    f"({miss.requests_per_s / mlserver.requests_per_s:.2f}x)"
                    if miss and mlserver
                    else "n/a",
                    miss.requests_per_s >= ratio * mlserver.requests_per_s if miss and mlserver else None,
                )
            )
        for clients, limit in MISS_P99_GOAL_MS.items():
            miss = self.warm_row("time2bet", "miss", clients)
            verdicts.append(
                (
                    f"miss p99 ≤ {limit:.0f} ms at {clients} clients",
                    f"{miss.p99_ms:.1f} ms" if miss else "n/a",
                    miss.p99_ms <= limit if miss else None,
                )
            )
        batch = self.batch_scoring
        verdicts.append(
            (
                f"batch scoring ≥ {BATCH_GOAL_MATCHES_PER_S:,} matches/s, features included",
                f"{batch.matches_per_s:,.0f} matches/s (LightGBM predict alone {batch.lightgbm_rows_per_s:,.0f} rows/s)"
                if batch
                else f"n/a: {self.batch_scoring_skipped or 'not measured'}",
                batch.matches_per_s >= BATCH_GOAL_MATCHES_PER_S if batch else None,
            )
        )
        measured = [m for m in self.memory if m.rss_mb is not None]
        if measured:
            largest = max(measured, key=lambda m: m.rss_mb or 0.0)
            over = [m.function for m in measured if (m.rss_mb or 0.0) > RSS_GOAL_MB]
            verdicts.append(
                (
                    f"RSS ≤ {RSS_GOAL_MB:.0f} MB, every HTTP function",
                    f"largest {largest.function} {largest.rss_mb:.0f} MB"
                    + (f"; over: {', '.join(over)}" if over else ""),
                    not over and len(measured) == len(self.memory),
                )
            )
        return verdicts

    def to_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        for key in ("cold_starts", "cold_starts_tracking_server"):
            starts = getattr(self, key)
            if starts:
                document[key].update(
                    median_s=starts.median_s, max_s=starts.max_s, median_listening_s=starts.median_listening_s
                )
        if self.model_loading:
            document["model_loading"]["same_outputs"] = self.model_loading.same_outputs
        document["goals"] = [{"goal": g, "measured": m, "met": met} for g, m, met in self.goals()]
        document["mlserver_footnote"] = MLSERVER_FOOTNOTE
        return document

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")

    def finish(self) -> None:
        self.load_average["end"] = os.getloadavg()[0]

    def print(self, console: Console) -> None:
        tables = (self._cold_table(), self._warm_table(), self._memory_table(), self._loading_table())
        for table in (*tables, self._batch_table()):
            if table.row_count:
                console.print(table)
        if self.mlserver_skipped:
            console.print(f"MLServer column skipped: {self.mlserver_skipped}", highlight=False)
        console.print(self._goals_table())
        load = ", ".join(f"{when} {value:.1f}" for when, value in self.load_average.items())
        console.print(f"{os.cpu_count()} CPUs; 1-minute load average {load}", highlight=False)

    def _cold_table(self) -> Table:
        table = Table("POST /predict from process exec", "seconds", title="Cold start (predict, one uvicorn worker)")
        for registry, starts in (("embedded", self.cold_starts), ("tracking server", self.cold_starts_tracking_server)):
            if starts:
                runs = len(starts.runs)
                table.add_row(f"{registry}: until listening (median of {runs})", f"{starts.median_listening_s:.2f}")
                table.add_row(
                    f"{registry}: until first 200, model load included (median of {runs})", f"{starts.median_s:.2f}"
                )
                table.add_row(f"{registry}: until first 200 (max of {runs})", f"{starts.max_s:.2f}")
        for module, seconds in self.import_seconds.items():
            table.add_row(f"  import {module} (fresh interpreter)", f"{seconds:.2f}")
        return table

    def _warm_table(self) -> Table:
        table = Table(
            "server",
            "cache",
            "clients",
            "requests",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "req/s",
            "non-200",
            title="Warm POST /predict vs MLServer V2 infer (loopback)",
            caption=self._warm_caption(),
        )
        for row in self.warm:
            result = row.result
            if result is None:
                table.add_row(row.server, row.cache, str(row.concurrency), row.note or "n/a", *["-"] * 5)
                continue
            table.add_row(
                row.server,
                row.cache,
                str(row.concurrency),
                f"{result.requests}{' (bodies reused)' if result.bodies_reused else ''}",
                f"{result.p50_ms:.2f}",
                f"{result.p95_ms:.2f}",
                f"{result.p99_ms:.2f}",
                f"{result.requests_per_s:,.0f}",
                str(result.non_200),
            )
        return table

    def _warm_caption(self) -> str:
        notes = [LOADERS[self.loader]]
        if any(row.server == "mlserver" for row in self.warm):
            notes.insert(0, MLSERVER_FOOTNOTE)
        return " ".join(notes)

    def _memory_table(self) -> Table:
        table = Table("function", "requests made", "RSS MB", title="Resident memory per HTTP function (alone)")
        for memory in self.memory:
            rss = f"{memory.rss_mb:.0f}" if memory.rss_mb is not None else "-"
            table.add_row(memory.function, "; ".join(memory.requests), rss)
        return table

    def _loading_table(self) -> Table:
        table = Table("champion load", "median s", title="Model loading (warm process)")
        loading = self.model_loading
        if loading:
            table.add_row("mlflow.pyfunc.load_model(models:/<name>@champion)", f"{loading.pyfunc_median_s:.3f}")
            table.add_row("load_predictor (booster directly)", f"{loading.booster_median_s:.3f}")
            verdict = "equal" if loading.same_outputs else "DIFFERENT"
            table.add_row(
                f"booster outputs on {loading.rows_compared} rows: {verdict}",
                f"max |Δ| {loading.max_abs_difference:.1e}",
            )
        return table

    def _batch_table(self) -> Table:
        columns = ("scored", "matches", "seconds (median)", "matches/s", "LightGBM predict rows/s")
        table = Table(*columns, title="Batch scoring")
        batch = self.batch_scoring
        if batch:
            table.add_row(
                f"t2b score's code on {batch.data}",
                f"{batch.matches:,}",
                f"{batch.seconds:.2f}",
                f"{batch.matches_per_s:,.0f}",
                f"{batch.lightgbm_rows_per_s:,.0f}",
            )
        return table

    def _goals_table(self) -> Table:
        table = Table("goal", "measured", "met", title="Goals")
        for goal, measured, met in self.goals():
            table.add_row(goal, measured, {True: "[green]yes[/green]", False: "[red]no[/red]", None: "n/a"}[met])
        return table
