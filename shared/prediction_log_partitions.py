"""Day partitions of the prediction log on PostgreSQL (declarative RANGE partitioning on `served_at`).

A partition covers one UTC day: `prediction_log_pYYYYMMDD`, [midnight, next midnight). A DEFAULT
partition catches rows of a day nobody created ahead (a backfill, a test inserting old rows) so an
insert never fails for want of a partition; creating that day's partition later moves its rows out
of the default first, which PostgreSQL requires before attaching. The writer process creates today's
and tomorrow's partitions when it starts and whenever the day changes; `t2b predictions compact`
drops old ones. SQLite keeps one table: every function here is a no-op there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, text

TABLE = "prediction_log"
DEFAULT_PARTITION = f"{TABLE}_default"


def is_partitioned(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def existing_partitions(connection: Connection) -> dict[date, str]:
    """Day partitions by day (the default partition is not one)."""
    names = connection.scalars(
        text(
            "SELECT child.relname FROM pg_inherits JOIN pg_class parent ON parent.oid = pg_inherits.inhparent "
            "JOIN pg_class child ON child.oid = pg_inherits.inhrelid WHERE parent.relname = :table"
        ),
        {"table": TABLE},
    )
    prefix = f"{TABLE}_p"
    return {datetime.strptime(name[len(prefix) :], "%Y%m%d").date(): name for name in names if name.startswith(prefix)}


def ensure_partitions(connection: Connection, days: Iterable[date]) -> list[date]:
    """Create the partitions of these days that do not exist yet; returns the days created."""
    if not is_partitioned(connection):
        return []
    # Serving processes each run a writer: one creates a day's partition, the others then see it.
    connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:table))"), {"table": TABLE})
    missing = sorted(set(days) - set(existing_partitions(connection)))
    for day in missing:
        name, (start, end) = partition_name(day), day_bounds(day)
        bounds = {"start": start, "end": end}
        # Rows of this day in the default partition move to the new one before it is attached.
        connection.execute(text(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
        connection.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE served_at >= :start AND served_at < :end "
                f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            bounds,
        )
        connection.execute(
            text(
                f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM "
                f"('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
        )
    return missing


def days_ahead(today: date, count: int = 2) -> list[date]:
    return [today + timedelta(days=offset) for offset in range(count)]
