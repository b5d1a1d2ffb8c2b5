"""`t2b bench soak --minutes N`: POST /predict under steady load for N minutes, then the prediction
log compacted — does anything grow without bound?

Prints the predict process's RSS (and its log writer child's) at the start, middle and end, the
errors, the p99 of each half, the store's growth per 1,000 requests, and the store before and after
`t2b predictions compact` next to the features' bytes per row as compact vectors and as the JSON
objects the log stored before migration 0006. The store is the bench's own SQLite file (the
embedded default), measured after a WAL checkpoint; compaction treats the soak's day as settled
(`today` is tomorrow) with retention 0, so every logged row is exported and removed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import psutil
import typer
from rich.table import Table
from sqlalchemy import Engine, func, select, text

from shared.bench import functions
from shared.bench.environment import drop_redis_keys, find_redis, prepare
from shared.bench.load import Load, LoadResult, choose_generator
from shared.bench.serve import data_dir, predict_bodies
from shared.cli.console import console
from shared.cli.errors import CommandError, ExitCode

CLIENTS = 8
SAMPLE_ROWS = 1_000  # rows whose feature bytes are measured both ways


class Rss(NamedTuple):
    server_mb: float
    writer_mb: float  # the prediction log's writer process (and any other child)


class FeatureBytes(NamedTuple):
    compact: float  # mean bytes per row as stored
    json: float  # mean bytes per row as the JSON object the log held before migration 0006


def rss_of(pid: int) -> Rss:
    process = psutil.Process(pid)
    children = process.children(recursive=True)
    return Rss(process.memory_info().rss / 2**20, sum(child.memory_info().rss for child in children) / 2**20)


def store_bytes(engine: Engine) -> int:
    """The SQLite file's size once its write-ahead log is folded in."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(engine.url.database or "").stat().st_size


def logged_rows(engine: Engine) -> int:
    from shared.db.models import PredictionLog

    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(PredictionLog)) or 0)


def wait_for_log(engine: Engine, expected: int, timeout_s: float = 60.0) -> int:
    """Rows logged once the writer has caught up (or stopped gaining for 5 s)."""
    deadline, last, still_since = time.monotonic() + timeout_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        rows = logged_rows(engine)
        if rows >= expected:
            return rows
        if rows != last:
            last, still_since = rows, time.monotonic()
        elif time.monotonic() - still_since > 5:
            return rows
        time.sleep(0.5)
    return logged_rows(engine)


def feature_bytes(engine: Engine) -> FeatureBytes:
    from shared.db.feature_vector import decode

    with engine.connect() as connection:
        stored = connection.scalars(text(f"SELECT features FROM prediction_log LIMIT {SAMPLE_ROWS}")).all()
    if not stored:
        return FeatureBytes(0.0, 0.0)
    as_json = [len(json.dumps(decode(bytes(value)))) for value in stored]  # the JSON column's own encoding
    return FeatureBytes(sum(len(bytes(value)) for value in stored) / len(stored), sum(as_json) / len(as_json))


def bench_soak_command(
    minutes: float = typer.Option(..., "--minutes", min=0.1, help="Minutes of load (split in two halves)."),
    clients: int = typer.Option(CLIENTS, "--clients", min=1, help="Concurrent keep-alive clients."),
    loader: str = typer.Option("auto", "--loader", help="wrk, aiohttp, or auto (wrk where installed)."),
    work_dir: Path | None = typer.Option(None, "--work-dir", help="Keep the data dir and logs here."),
) -> None:
    """Soak POST /predict: RSS, errors, p99 and prediction-log growth per 1,000 requests, then compaction."""
    try:
        loader_name, generate = choose_generator(loader.lower())
    except ValueError as exc:
        raise CommandError(f"--loader: {exc}", ExitCode.BAD_INPUT) from None
    from shared.db.session import get_engine
    from shared.prediction_log_maintenance import compact
    from shared.storage import get_store

    with data_dir(work_dir) as root:
        logs = root / "logs"
        logs.mkdir(exist_ok=True)
        console.print("preparing demo data and a champion…")
        fixture = prepare(root / "var", find_redis(), lambda line: None)
        engine = get_engine()
        _, miss_body = predict_bodies(fixture)
        process, base_url = functions.start_function(functions.PREDICT_APP, logs)
        try:
            half = minutes * 30
            warm = generate(Load(f"{base_url}/predict", miss_body, clients, 1.0, 0.0))
            rows_before = wait_for_log(engine, warm.numbers_used)
            size_before, rss = store_bytes(engine), [rss_of(process.pid)]
            console.print(f"soaking {minutes:g} min with {clients} clients ({loader_name})…")
            halves: list[LoadResult] = []
            first = warm.numbers_used
            for _ in range(2):
                halves.append(generate(Load(f"{base_url}/predict", miss_body, clients, half, 0.0, first)))
                first += halves[-1].numbers_used
                rss.append(rss_of(process.pid))
        finally:
            functions.stop_process(process)  # the writer flushes what it holds on the way out
            if fixture.redis_url:
                drop_redis_keys(fixture.redis_url, fixture.redis_prefix)
        sent = first - warm.numbers_used
        rows_after = wait_for_log(engine, rows_before + sent)
        size_after, sizes = store_bytes(engine), feature_bytes(engine)
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)
        report = compact(engine, get_store(), tomorrow, retention_days=0)
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM")
        size_compacted = store_bytes(engine)
    _print(minutes, rss, halves, sent, rows_after - rows_before, (size_before, size_after, size_compacted), sizes)
    console.print(
        f"compaction: {sum(report.exported_rows.values()):,} rows exported to parquet, "
        f"{len(report.removed_days)} day(s) removed from the store"
    )


def _print(
    minutes: float,
    rss: list[Rss],
    halves: list[LoadResult],
    sent: int,
    logged: int,
    sizes: tuple[int, int, int],
    features: FeatureBytes,
) -> None:
    before, after, compacted = sizes
    errors = sum(result.non_200 for result in halves)
    table = Table(title=f"t2b bench soak: {minutes:g} min of POST /predict (cache misses)")
    table.add_column("figure")
    table.add_column("start", justify="right")
    table.add_column("middle", justify="right")
    table.add_column("end", justify="right")
    table.add_row("predict RSS, MB", *(f"{sample.server_mb:.0f}" for sample in rss))
    table.add_row("log writer RSS, MB", *(f"{sample.writer_mb:.0f}" for sample in rss))
    table.add_row("p99, ms", "", *(f"{result.p99_ms:.1f}" for result in halves))
    table.add_row("requests/s", "", *(f"{result.requests_per_s:,.0f}" for result in halves))
    console.print(table)
    per_thousand = (after - before) / sent * 1000 if sent else 0.0
    sizes_table = Table(title="prediction log store (SQLite file)")
    sizes_table.add_column("figure")
    sizes_table.add_column("value", justify="right")
    sizes_table.add_row("requests / non-200 / rows logged", f"{sent:,} / {errors:,} / {logged:,}")
    sizes_table.add_row("store growth per 1,000 requests", f"{per_thousand / 1024:,.1f} KiB")
    as_json = per_thousand + (features.json - features.compact) * 1000  # the same rows with the old column
    sizes_table.add_row("… with JSON features (pre-0006, estimated)", f"{as_json / 1024:,.1f} KiB")
    sizes_table.add_row(
        "features per row: compact vs JSON (pre-0006)", f"{features.compact:.0f} B vs {features.json:.0f} B"
    )
    sizes_table.add_row(
        "store before soak / after soak / after compaction",
        f"{before / 2**20:.1f} / {after / 2**20:.1f} / {compacted / 2**20:.1f} MiB",
    )
    console.print(sizes_table)
