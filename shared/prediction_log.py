"""The prediction log, written off the request path — and out of the serving process.

Requests put rows on a bounded queue; a child process writes them in batches. A writer thread in
the serving process was measured to double the p99 of POST /predict: each batch insert holds the
GIL for milliseconds while requests wait. The child has its own interpreter, so the requests only
pay for handing a row over. If the store is down or the queue is full, rows are counted as dropped
rather than slowing requests: the log serves monitoring, the answer to the caller comes first.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from sqlalchemy import Engine

from shared.metrics import PREDICTION_LOG_BACKLOG, PREDICTION_LOG_DROPPED

log = logging.getLogger("time2bet.prediction_log")
_CONTEXT = multiprocessing.get_context("spawn")  # no fork of a threaded server process


class PredictionLogWriter:
    def __init__(
        self, engine: Engine, batch_size: int = 200, flush_interval_s: float = 1.0, capacity: int = 50_000
    ) -> None:
        self._database_url = engine.url.render_as_string(hide_password=False)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._queue: multiprocessing.Queue = _CONTEXT.Queue(maxsize=capacity)
        self._dropped_in_child: Synchronized = _CONTEXT.Value("l", 0)
        self._process: multiprocessing.process.BaseProcess | None = None
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

    def append(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
        except queue.Full:
            PREDICTION_LOG_DROPPED.inc()

    @property
    def dropped_while_writing(self) -> int:
        return int(self._dropped_in_child.value)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop."""
        if self._process is not None:
            self._queue.put(None)
            self._process.join(timeout_s)
            if self._process.is_alive():
                self._process.terminate()
            PREDICTION_LOG_DROPPED.inc(self.dropped_while_writing)
            self._process = None

    def _backlog(self) -> float:
        try:
            return float(self._queue.qsize())
        except NotImplementedError:  # macOS has no sem_getvalue
            return 0.0


def _write_rows(
    rows: multiprocessing.Queue, dropped: Synchronized, database_url: str, batch_size: int, flush_interval_s: float
) -> None:
    """The child: batches rows (lingering up to the flush interval for a full batch) into one transaction each."""
    from sqlalchemy import insert

    from shared.db.models import PredictionLog
    from shared.db.session import engine_for, transaction

    engine = engine_for(database_url)
    stopping = False
    while not stopping:
        try:
            item = rows.get(timeout=flush_interval_s)
        except queue.Empty:
            continue
        batch: list[dict[str, Any]] = []
        deadline = time.monotonic() + flush_interval_s
        while True:
            if item is None:
                stopping = True
                break
            batch.append(item)
            remaining = deadline - time.monotonic()
            if len(batch) >= batch_size or remaining <= 0:
                break
            try:
                item = rows.get(timeout=remaining)
            except queue.Empty:
                break
        if batch:
            try:
                with transaction(engine) as session:
                    session.execute(insert(PredictionLog), batch)
            except Exception as exc:
                log.warning("dropping %d prediction log rows: %s", len(batch), exc)
                with dropped.get_lock():
                    dropped.value += len(batch)
    engine.dispose()
