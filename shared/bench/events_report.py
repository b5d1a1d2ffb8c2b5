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
    system: str  # time2bet | celery
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

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))


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
