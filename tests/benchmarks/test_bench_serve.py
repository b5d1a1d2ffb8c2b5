"""`t2b bench serve --quick`: the whole benchmark runs, stops what it starts, and reports sane figures.

Timing goals are not asserted: the figures depend on the machine and whatever else runs on it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psutil
import pytest

from shared.bench.load import wrk_available
from shared.processes import REPO, python_bin


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_serving_benchmark(tmp_path: Path) -> None:
    figures = tmp_path / "serve.json"
    completed = subprocess.run(
        [python_bin("t2b"), "bench", "serve", "--quick", "--json", str(figures), "--work-dir", str(tmp_path / "work")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    for title in ("Cold start", "Warm POST /predict", "Resident memory", "Model loading", "Goals"):
        assert title in completed.stdout
    report = json.loads(figures.read_text())

    for key in ("cold_starts", "cold_starts_tracking_server"):  # embedded defaults, then `mlflow server`
        cold = report[key]
        assert len(cold["runs"]) == 1
        assert 0 < cold["median_listening_s"] <= cold["median_s"]

    warm = {(row["server"], row["cache"], row["concurrency"]): row for row in report["warm"]}
    assert set(warm) == {("time2bet", "hit", 8), ("time2bet", "miss", 8)}
    for row in warm.values():
        result = row["result"]
        if result is None:  # no Redis here: the hit run is reported as not measured
            assert row["cache"] == "hit" and report["redis"] is None
            continue
        assert result["statuses"] == {"200": result["requests"]} and result["requests"] > 0
        assert not result["bodies_reused"]
        assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
        assert result["requests_per_s"] > 0
    assert report["mlserver_skipped"] == "--quick"
    assert report["batch_scoring_skipped"] == "--quick"  # the quick run never reads the reference set
    assert report["loader"] == ("wrk" if wrk_available() else "aiohttp")

    memory = {row["function"]: row for row in report["memory"]}
    assert {"predict", "health", "stats", "prediction-lookup"} <= set(memory)
    assert memory["predict"]["requests"] == ["POST /predict -> 200"]
    assert all(row["rss_mb"] > 20 for row in memory.values() if row["function"] in {"predict", "health", "stats"})

    loading = report["model_loading"]
    assert loading["pyfunc_median_s"] > 0 and loading["booster_median_s"] > 0
    assert loading["same_outputs"] and loading["rows_compared"] > 0
    assert {goal["goal"] for goal in report["goals"]} >= {
        "cold start ≤ 0.5 s, embedded defaults",
        "cold start ≤ 0.5 s, MLflow tracking server",
        "miss p99 ≤ 6 ms at 8 clients",
    }

    # every server the bench started is stopped: no process is left serving a port its logs are named
    # after (asked by command line, not by connecting: another program on the machine may reuse a port)
    ports = {int(log.stem.rsplit("-", 1)[1]) for log in (tmp_path / "work" / "logs").glob("*-*.log")}
    assert len(ports) >= 3
    assert not [argv for argv in server_command_lines() if set(argv) & {str(port) for port in ports}]


def server_command_lines() -> list[list[str]]:
    lines = []
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if "--port" in argv and any(word.endswith("uvicorn") for word in argv):
            lines.append(argv)
    return lines


def test_goals_hold_misses_to_multiples_of_mlserver_and_every_function_to_the_memory_cap() -> None:
    """The verdicts of issue #19's goals table, on figures made up to sit either side of each line."""
    from shared.bench.batch_scoring import BatchScoring
    from shared.bench.functions import ColdStart, ColdStarts, FunctionMemory
    from shared.bench.load import LoadResult
    from shared.bench.report import ServeBenchReport, WarmRow

    def result(rate: float, p99_ms: float) -> LoadResult:
        return LoadResult(1000, 1.0, 1.0, 2.0, p99_ms, rate)

    report = ServeBenchReport(quick=False, redis=None, loader="wrk")
    report.cold_starts = ColdStarts([ColdStart(0.3, 0.45), ColdStart(0.3, 0.48), ColdStart(0.3, 0.9)])
    report.cold_starts_tracking_server = ColdStarts([ColdStart(0.3, 0.49), ColdStart(0.3, 0.51), ColdStart(0.3, 0.52)])
    report.warm = [
        WarmRow("time2bet", "miss", 1, result(1000, 2.0)),
        WarmRow("mlserver", "none", 1, result(1001, 2.0)),  # just short of 1.0x
        WarmRow("time2bet", "miss", 8, result(1500, 5.9)),
        WarmRow("mlserver", "none", 8, result(1000, 5.0)),  # exactly 1.5x
        WarmRow("time2bet", "miss", 32, result(3000, 12.5)),
        WarmRow("mlserver", "none", 32, result(1000, 20.0)),
    ]
    report.memory = [FunctionMemory("predict", [], 99.0), FunctionMemory("health", [], 238.0)]
    report.batch_scoring = BatchScoring("reference", 30_000, 0.61, 4e6)  # 49,180 matches/s
    verdicts = {goal: met for goal, _measured, met in report.goals()}
    assert verdicts == {
        "cold start ≤ 0.5 s, embedded defaults": True,  # the median of three
        "cold start ≤ 0.5 s, MLflow tracking server": False,
        "misses ≥ 1.0x MLServer's throughput at 1 clients": False,
        "misses ≥ 1.5x MLServer's throughput at 8 clients": True,
        "misses ≥ 1.5x MLServer's throughput at 32 clients": True,
        "miss p99 ≤ 6 ms at 8 clients": True,
        "miss p99 ≤ 12 ms at 32 clients": False,
        "RSS ≤ 100 MB, every HTTP function": False,
        "batch scoring ≥ 50,000 matches/s, features included": False,
    }
    measured = {goal: text for goal, text, _met in report.goals()}
    assert measured["batch scoring ≥ 50,000 matches/s, features included"].startswith("49,180 matches/s")
    report.batch_scoring, report.batch_scoring_skipped = None, "no reference set at ../shared/data/football-data"
    unmeasured = {goal: (text, met) for goal, text, met in report.goals()}
    assert unmeasured["batch scoring ≥ 50,000 matches/s, features included"] == (
        "n/a: no reference set at ../shared/data/football-data",
        None,
    )
    assert measured["RSS ≤ 100 MB, every HTTP function"] == "largest health 238 MB; over: health"
