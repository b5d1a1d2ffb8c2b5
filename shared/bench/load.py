"""A closed-loop load generator: `concurrency` clients on keep-alive connections, bounded in count and time."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

Body = Callable[[int], dict[str, Any]]  # request number -> JSON body, so runs can vary the input


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_s: float
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def non_200(self) -> int:
        return sum(count for status, count in self.statuses.items() if status != 200)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: an observed latency, never an interpolated one."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def run_load(
    url: str, body: Body, concurrency: int, requests: int, max_seconds: float, warmup: int = 0, first: int = 0
) -> LoadResult:
    """POST `requests` bodies numbered from `first` (after `warmup` unmeasured ones), stopping at `max_seconds`."""
    return asyncio.run(_load(url, body, concurrency, requests, max_seconds, warmup, first))


async def _load(
    url: str, body: Body, concurrency: int, requests: int, max_seconds: float, warmup: int, first: int
) -> LoadResult:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up requests open the keep-alive connections and fill caches; they are not measured.
        await _clients(session, url, body, concurrency, warmup, first, time.monotonic() + max_seconds)
        started = time.perf_counter()
        latencies, statuses = await _clients(
            session, url, body, concurrency, requests, first + warmup, time.monotonic() + max_seconds
        )
        elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"no request to {url} completed within {max_seconds} s")
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=statistics.median(latencies) * 1000,
        p95_ms=percentile(latencies, 0.95) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        requests_per_s=len(latencies) / elapsed,
        statuses=dict(statuses),
    )


async def _clients(
    session: aiohttp.ClientSession, url: str, body: Body, concurrency: int, requests: int, first: int, deadline: float
) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    next_number = iter(range(first, first + requests))

    async def client() -> None:
        for number in next_number:  # shared iterator: the clients take numbers in turn
            if time.monotonic() > deadline:
                return
            payload = body(number)
            started = time.perf_counter()
            async with session.post(url, json=payload) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, statuses
