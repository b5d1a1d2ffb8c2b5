"""The figures of `t2b bench events` and what both of its sides (time2bet, Celery) use to take them."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pika
import pika.exceptions
from rich.console import Console
from rich.table import Table

from shared.processes import stop_process

console = Console()
DELIVERY_TIMEOUT_SECONDS = 300.0
# Issue #16's goals
NOOP_EVENTS_PER_S = 5_000
ASYNC_PREDICTIONS_PER_S = 1_000
ASYNC_P99_MS = 50.0
ASYNC_GOAL_CLIENTS = 8
# the rows the goals read
NOOP_WORK = "no-op function, end to end"
ASYNC_WORK = "async predict, submit→done"
CELERY_NOOP_WORK = "no-op task"
CELERY_ASYNC_WORK = "infer.delay().get()"


@dataclass(frozen=True)
class Plan:
    parallelism: tuple[int, ...]
    noop_events: int
    infer_events: int
    clients: tuple[int, ...]
    seconds: float  # measured load per async/sync level

    @classmethod
    def choose(cls, quick: bool, seconds: float | None, events: int | None) -> Plan:
        """`events` no-op events per level (infer gets a tenth): on a loaded machine a full run can take long."""
        if quick:
            return cls((8,), events or 1000, (events or 1000) // 10, (8,), seconds or 3.0)
        return cls((1, 8, 32), events or 10_000, (events or 10_000) // 10, (8, 32), seconds or 10.0)


@dataclass(frozen=True)
class Row:
    system: str  # time2bet | celery (as the seed ran it) | celery, quorum+confirms
    work: str
    level: str
    per_second: float | None
    p50_ms: float | None = None
    p99_ms: float | None = None
    note: str = ""


@dataclass
class EventsBenchReport:
    quick: bool
    rows: list[Row] = field(default_factory=list)
    load_before: tuple[float, ...] = ()
    load_after: tuple[float, ...] = ()
    cpus: int = os.cpu_count() or 1
    celery_skipped: str = ""

    def add(self, row: Row) -> None:
        self.rows.append(row)
        line = f"  {row.system:9} {row.work:28} {row.level:12} {_figure(row.per_second)}/s"
        if row.p50_ms is not None:
            line += f"  p50 {_figure(row.p50_ms, 1)} ms  p99 {_figure(row.p99_ms, 1)} ms"
        console.print(line, highlight=False)

    def print(self) -> None:
        table = Table(title="t2b bench events", show_lines=False)
        for column in ("system", "work", "level", "per s", "p50 ms", "p99 ms", "note"):
            table.add_column(column, justify="right" if column in ("per s", "p50 ms", "p99 ms") else "left")
        for row in self.rows:
            table.add_row(
                row.system,
                row.work,
                row.level,
                _figure(row.per_second),
                _figure(row.p50_ms, 1),
                _figure(row.p99_ms, 1),
                row.note,
            )
        console.print(table)
        console.print(
            f"{self.cpus} CPUs; load average before {_loads(self.load_before)}, after "
            f"{_loads(self.load_after)} (a shared machine: figures move with the other work on it)"
        )
        if self.celery_skipped:
            console.print(f"Celery skipped: {self.celery_skipped}")
        goals = Table(title="Goals (#16)")
        for column in ("goal", "measured", "met"):
            goals.add_column(column)
        for goal, measured, met in self.goals():
            goals.add_row(goal, measured, "-" if met is None else "yes" if met else "no")
        console.print(goals)

    def goals(self) -> list[tuple[str, str, bool | None]]:
        """Each goal of #16, what was measured against it and whether it was met (None: not measured). Celery
        is Celery as the seed ran it; its rows with the event path's guarantees are in the table beside."""
        rows = {(row.system, row.work, row.level): row for row in self.rows}
        verdicts: list[tuple[str, str, bool | None]] = []
        noop = [row for row in self.rows if row.system == "time2bet" and row.work == NOOP_WORK]
        best = max(noop, key=lambda row: row.per_second or 0.0, default=None)
        verdicts.append(
            _verdict(
                f"no-op ≥ {NOOP_EVENTS_PER_S:,} events/s",
                best and best.per_second,
                NOOP_EVENTS_PER_S,
                f" (best level, {best.level})" if best else "",
            )
        )
        at_goal = rows.get(("time2bet", ASYNC_WORK, f"{ASYNC_GOAL_CLIENTS} clients"))
        verdicts.append(
            _verdict(
                f"async predictions ≥ {ASYNC_PREDICTIONS_PER_S:,}/s at {ASYNC_GOAL_CLIENTS} clients",
                at_goal and at_goal.per_second,
                ASYNC_PREDICTIONS_PER_S,
            )
        )
        p99 = at_goal.p99_ms if at_goal else None
        verdicts.append(
            (
                f"submit→finished p99 ≤ {ASYNC_P99_MS:.0f} ms at {ASYNC_GOAL_CLIENTS} clients",
                "-" if p99 is None else f"{p99:,.1f} ms",
                None if p99 is None else p99 <= ASYNC_P99_MS,
            )
        )
        for ours in noop:
            theirs = rows.get(("celery", CELERY_NOOP_WORK, f"c={ours.level.removeprefix('p=')}"))
            verdicts.append(_ahead(f"no-op events ahead of Celery at {ours.level}", ours, theirs))
        for ours in (row for row in self.rows if row.system == "time2bet" and row.work == ASYNC_WORK):
            theirs = rows.get(("celery", CELERY_ASYNC_WORK, ours.level))
            verdicts.append(_ahead(f"async predictions ahead of Celery at {ours.level}", ours, theirs))
        return verdicts

    def write_json(self, path: Path) -> None:
        goals = [{"goal": goal, "measured": measured, "met": met} for goal, measured, met in self.goals()]
        path.write_text(json.dumps({**asdict(self), "goals": goals}, indent=2))


def _verdict(goal: str, measured: float | None, at_least: float, where: str = "") -> tuple[str, str, bool | None]:
    if measured is None:
        return goal, "-", None
    return goal, f"{measured:,.0f}/s{where}", measured >= at_least


def _ahead(goal: str, ours: Row, theirs: Row | None) -> tuple[str, str, bool | None]:
    if theirs is None or not ours.per_second or not theirs.per_second:
        return goal, "-", None
    ratio = ours.per_second / theirs.per_second
    return goal, f"{ours.per_second:,.0f} vs {theirs.per_second:,.0f}/s ({ratio:.2f}x)", ratio > 1


def _figure(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _loads(loads: Sequence[float]) -> str:
    return " ".join(f"{value:.1f}" for value in loads) or "?"


def wait_for_consumer(amqp_url: str, queue: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Until `process` consumes from `queue` (which it may declare itself: a missing queue is not yet)."""
    deadline = time.monotonic() + timeout
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        while _consumers(connection, queue) == 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no consumer on {queue} (process exit code {process.poll()})")
            time.sleep(0.1)
    finally:
        connection.close()


def _consumers(connection: pika.BlockingConnection, queue: str) -> int:
    try:
        return connection.channel().queue_declare(queue, passive=True).method.consumer_count
    except pika.exceptions.ChannelClosedByBroker:  # 404: not declared yet (the passive declare closed the channel)
        return 0


@contextmanager
def running(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    try:
        yield process
    finally:
        stop_process(process)


def wait_for_count(count: Callable[[], int], target: int, what: str, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while count() < target:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not done within {timeout:.0f} s")
        time.sleep(0.02)
