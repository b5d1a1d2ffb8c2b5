"""Closed-loop load generators: `concurrency` clients on keep-alive connections for a fixed time.

`wrk` (C, one thread) is used where it is installed: a Python client on a 2-core machine takes a
core from the server it measures and adds its own event-loop delays to every latency. The aiohttp
client is the fallback that needs nothing outside the virtualenv; the report names the one used.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

Body = Callable[[int], dict[str, Any]]  # request number -> JSON body, so runs can vary the input
REPLAY_SCRIPT = Path(__file__).with_name("replay.lua")
# Bodies written for wrk per second of load: above what one server process answers here, so the
# bodies (and so the cache keys of a miss run) are not reused; a run that did reuse them says so.
WRK_BODIES_PER_SECOND = 10_000


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_s: float
    statuses: dict[int, int] = field(default_factory=dict)
    numbers_used: int = 0  # request numbers taken from `first` on, warm-up included
    bodies_reused: bool = False

    @property
    def non_200(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


@dataclass(frozen=True)
class Load:
    url: str
    body: Body
    concurrency: int
    seconds: float
    warmup_seconds: float
    first: int = 0  # number of the first body: runs that must not share inputs start apart


LoadGenerator = Callable[[Load], LoadResult]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed latency, never an interpolated one."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_aiohttp(load: Load) -> LoadResult:
    return asyncio.run(_aiohttp_load(load))


async def _aiohttp_load(load: Load) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=load.concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    numbers = iter(range(load.first, 2**62))  # shared: the clients take numbers in turn
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up requests open the keep-alive connections and fill caches; they are not measured.
        await _clients(session, load, numbers, load.warmup_seconds)
        started = time.perf_counter()
        latencies, statuses = await _clients(session, load, numbers, load.seconds)
        elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"no request to {load.url} completed within {load.seconds} s")
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests_per_s=len(latencies) / elapsed,
        statuses=dict(statuses),
        numbers_used=next(numbers) - load.first,
    )


async def _clients(
    session: aiohttp.ClientSession, load: Load, numbers: Any, seconds: float
) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < deadline:
            payload = load.body(next(numbers))
            started = time.perf_counter()
            async with session.post(load.url, json=payload) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1

    await asyncio.gather(*(client() for _ in range(load.concurrency)))
    return latencies, statuses


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(load: Load) -> LoadResult:
    """Warm-up, then the measured run, each a `wrk` run replaying bodies the Python side wrote."""
    with tempfile.TemporaryDirectory(prefix="t2b-wrk-") as scratch:
        warmup = _wrk(load, Path(scratch) / "warmup.jsonl", load.first, load.warmup_seconds)
        first = load.first + warmup["bodies"]
        measured = _wrk(load, Path(scratch) / "measured.jsonl", first, load.seconds)
    if measured["requests"] == 0:
        raise RuntimeError(f"no request to {load.url} completed within {load.seconds} s")
    seconds = measured["duration_us"] / 1e6
    return LoadResult(
        requests=measured["requests"],
        seconds=seconds,
        p50_ms=measured["p50_us"] / 1000,
        p95_ms=measured["p95_us"] / 1000,
        p99_ms=measured["p99_us"] / 1000,
        requests_per_s=measured["requests"] / seconds,
        statuses={int(status): count for status, count in measured["statuses"].items()},
        numbers_used=warmup["bodies"] + measured["bodies"],
        bodies_reused=measured["requests"] + load.concurrency > measured["bodies"],
    )


def _wrk(load: Load, bodies_path: Path, first: int, seconds: float) -> dict[str, Any]:
    count = max(1000, int(seconds * WRK_BODIES_PER_SECOND))
    with bodies_path.open("w") as bodies:
        for number in range(first, first + count):
            bodies.write(json.dumps(load.body(number), separators=(",", ":")) + "\n")
    duration = f"{max(1, round(seconds))}s"
    command = ["wrk", "-t1", f"-c{load.concurrency}", f"-d{duration}", "-s", str(REPLAY_SCRIPT), load.url]
    completed = subprocess.run(
        [*command, "--", str(bodies_path)], capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    figures = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not figures:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {(completed.stderr or completed.stdout)[-500:]}")
    return {**json.loads(figures[-1]), "bodies": count}


GENERATORS: dict[str, LoadGenerator] = {"wrk": run_wrk, "aiohttp": run_aiohttp}


def choose_generator(name: str) -> tuple[str, LoadGenerator]:
    """`auto` is wrk where installed, else aiohttp. ValueError says what to pass instead."""
    if name == "auto":
        name = "wrk" if wrk_available() else "aiohttp"
    if name not in GENERATORS:
        raise ValueError(f"unknown loader {name!r}: use wrk, aiohttp or auto")
    if name == "wrk" and not wrk_available():
        raise ValueError("wrk is not installed (Debian: apt-get install wrk); use --loader aiohttp")
    return name, GENERATORS[name]
