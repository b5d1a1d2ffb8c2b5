"""Wall time of repeated work, for the benchmarks' in-process figures."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(work: Callable[[], object], runs: int) -> float:
    """Median of `runs` timed calls after one untimed call, which pays the imports and first allocations
    (the cold start measures those)."""
    work()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
