"""The prediction log, written off the request path.

Requests put rows on a bounded in-memory queue; one background thread writes them in batches. If
the store is down or the queue is full, rows are counted as dropped rather than slowing requests:
the log serves monitoring, the answer to the caller comes first.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import Engine, insert

from shared.db.models import PredictionLog
from shared.db.session import transaction
from shared.metrics import PREDICTION_LOG_BACKLOG, PREDICTION_LOG_DROPPED

log = logging.getLogger("time2bet.prediction_log")
_STOP = object()


class PredictionLogWriter:
    def __init__(
        self, engine: Engine, batch_size: int = 200, flush_interval_s: float = 1.0, capacity: int = 50_000
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()

    def append(self, row: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(row)
            PREDICTION_LOG_BACKLOG.inc()
        except queue.Full:
            PREDICTION_LOG_DROPPED.inc()

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout_s)
            self._thread = None

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self._flush_interval_s)
            except queue.Empty:
                continue
            # Linger for a full batch: one row per transaction costs ~10x the CPU per row, and that
            # CPU is taken from the requests this process serves.
            batch: list[dict[str, Any]] = []
            deadline = time.monotonic() + self._flush_interval_s
            while True:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                remaining = deadline - time.monotonic()
                if len(batch) >= self._batch_size or remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[dict[str, Any]]) -> None:
        try:
            with transaction(self._engine) as session:
                session.execute(insert(PredictionLog), batch)
        except Exception as exc:
            log.warning("dropping %d prediction log rows: %s", len(batch), exc)
            PREDICTION_LOG_DROPPED.inc(len(batch))
        finally:
            PREDICTION_LOG_BACKLOG.dec(len(batch))
