"""The prediction log, written off the request path — and out of the serving process.

Requests add rows to a list; every `handoff_rows` rows (and every flush interval) the list goes on
a bounded queue to a child process that writes them in batches. A writer thread in the serving
process would hold the GIL through each batch insert while requests wait (the tail latency `t2b
bench serve` prints); the child has its own interpreter. Rows go over in lists, not one by one:
each hand-over costs the serving process a pickle, a pipe write and a wake-up, and in a list pickle
shares the keys and the pipe is written once. If the store is down or
the queue is full, rows are counted as dropped rather than slowing requests: the log serves
monitoring, the answer to the caller comes first. On PostgreSQL the child creates the day partitions
its rows need (today's and tomorrow's ahead, shared/prediction_log_partitions.py) before inserting.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from datetime import UTC, date
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

from shared.metrics import PREDICTION_LOG_BACKLOG, PREDICTION_LOG_DROPPED

if TYPE_CHECKING:  # the serving process hands rows over; only the child imports the database layer
    from sqlalchemy import Engine

log = logging.getLogger("time2bet.prediction_log")
_CONTEXT = multiprocessing.get_context("spawn")  # no fork of a threaded server process


class PredictionLogWriter:
    def __init__(
        self,
        database_url: str,
        batch_size: int = 200,
        flush_interval_s: float = 1.0,
        capacity: int = 50_000,
        handoff_rows: int = 64,
    ) -> None:
        self._database_url = database_url
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._handoff_rows = handoff_rows
        self._queue: multiprocessing.Queue = _CONTEXT.Queue(maxsize=max(1, capacity // handoff_rows))
        self._dropped_in_child: Synchronized = _CONTEXT.Value("l", 0)
        self._process: multiprocessing.process.BaseProcess | None = None
        self._pending: list[dict[str, Any]] = []
        self._pending_lock = threading.Lock()
        self._stopping = threading.Event()
        self._handoff_timer: threading.Thread | None = None
        PREDICTION_LOG_BACKLOG.set_function(self._backlog)

    def start(self) -> None:
        if self._process is None:
            self._process = _CONTEXT.Process(
                target=_write_rows,
                args=(
                    self._queue,
                    self._dropped_in_child,
                    self._database_url,
                    self._batch_size,
                    self._flush_interval_s,
                ),
                name="prediction-log",
                daemon=True,
            )
            self._process.start()
            self._stopping.clear()
            self._handoff_timer = threading.Thread(
                target=self._hand_over_every_interval, name="prediction-log-handoff", daemon=True
            )
            self._handoff_timer.start()

    def append(self, row: dict[str, Any]) -> None:
        with self._pending_lock:
            self._pending.append(row)
            if len(self._pending) < self._handoff_rows:
                return
            rows, self._pending = self._pending, []
        self._hand_over(rows)

    def _hand_over(self, rows: list[dict[str, Any]]) -> None:
        try:
            self._queue.put_nowait(rows)
        except queue.Full:
            PREDICTION_LOG_DROPPED.inc(len(rows))

    def _hand_over_pending(self) -> None:
        with self._pending_lock:
            rows, self._pending = self._pending, []
        if rows:
            self._hand_over(rows)

    def _hand_over_every_interval(self) -> None:
        """Rows of a quiet process reach the store within about two flush intervals."""
        while not self._stopping.wait(self._flush_interval_s):
            self._hand_over_pending()

    @property
    def dropped_while_writing(self) -> int:
        return int(self._dropped_in_child.value)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop."""
        if self._process is not None:
            self._stopping.set()
            if self._handoff_timer is not None:
                self._handoff_timer.join(timeout_s)
            self._hand_over_pending()
            self._queue.put(None)
            self._process.join(timeout_s)
            if self._process.is_alive():
                self._process.terminate()
            PREDICTION_LOG_DROPPED.inc(self.dropped_while_writing)
            self._process = None

    def _backlog(self) -> float:
        """Rows not yet handed to the writer, plus an upper bound for those queued in lists."""
        try:
            queued = self._queue.qsize() * self._handoff_rows
        except NotImplementedError:  # macOS has no sem_getvalue
            queued = 0
        return float(len(self._pending) + queued)


def _write_rows(
    rows: multiprocessing.Queue, dropped: Synchronized, database_url: str, batch_size: int, flush_interval_s: float
) -> None:
    """The child: batches the rows of the lists it receives (lingering up to the flush interval for a
    full batch) into one transaction each. It stops on None (close), or once the queue is empty and its
    parent has gone: a serving process killed without closing must not leave its writer behind."""
    from sqlalchemy import insert

    from shared.db.models import PredictionLog
    from shared.db.session import engine_for, transaction

    parent = multiprocessing.parent_process()
    assert parent is not None, "runs as the serving process's child"
    engine = engine_for(database_url)
    partitions = _DayPartitions(engine)
    stopping = False
    while not stopping:
        try:
            item = rows.get(timeout=flush_interval_s)
        except queue.Empty:
            stopping = not parent.is_alive()
            continue
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + flush_interval_s
        while True:
            if item is None:
                stopping = True
                break
            batch.extend(item)
            remaining = deadline - time.monotonic()
            if len(batch) >= batch_size or remaining <= 0:
                break
            try:
                item = rows.get(timeout=remaining)
            except queue.Empty:
                break
        if batch:
            for row in batch:  # JSON has no NaN (a missing price): null; NaN is the one value unequal to itself
                row["features"] = {name: (None if v != v else v) for name, v in row["features"].items()}
            try:
                partitions.ensure_for(batch)
                with transaction(engine) as session:
                    session.execute(insert(PredictionLog), batch)
            except Exception as exc:
                log.warning("dropping %d prediction log rows: %s", len(batch), exc)
                with dropped.get_lock():
                    dropped.value += len(batch)
    engine.dispose()


class _DayPartitions:
    """The days whose partitions this writer knows exist; the store is asked only when a new day appears."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._known: set[date] = set()

    def ensure_for(self, rows: list[dict[str, Any]]) -> None:
        from shared.prediction_log_partitions import days_ahead, ensure_partitions

        days = {row["served_at"].astimezone(UTC).date() for row in rows}
        if days <= self._known:
            return
        wanted = days | set(days_ahead(max(days)))
        with self._engine.begin() as connection:
            ensure_partitions(connection, wanted)
        self._known |= wanted
