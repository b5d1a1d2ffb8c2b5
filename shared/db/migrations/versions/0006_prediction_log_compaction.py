"""prediction log compaction: positional feature vectors; day partitions on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:45:00.000000

Features go from a JSON object per row to shared/db/feature_vector.py's versioned float64 vector
(~1.4 KB → 273 bytes). On PostgreSQL the table becomes RANGE-partitioned by day of `served_at`
(primary key id + served_at, as partitioning requires), with a DEFAULT partition and one partition
per day that already has rows; existing rows are copied across, ids and their sequence kept.
SQLite keeps one table and rewrites the column in place.
"""

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.db import feature_vector
from shared.prediction_log_partitions import DEFAULT_PARTITION, ensure_partitions

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "prediction_log"
INDEXED = ("match_id", "model_version", "served_at")
CHUNK = 5_000


def _columns(features_type: sa.types.TypeEngine) -> list[sa.Column]:
    return [
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("served_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("function", sa.String(length=40), nullable=False),
        sa.Column("match_id", sa.BigInteger(), nullable=True),
        sa.Column("home_team_id", sa.BigInteger(), nullable=False),
        sa.Column("away_team_id", sa.BigInteger(), nullable=False),
        sa.Column("kickoff_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("p_home", sa.Float(), nullable=False),
        sa.Column("p_draw", sa.Float(), nullable=False),
        sa.Column("p_away", sa.Float(), nullable=False),
        sa.Column("features", features_type, nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
    ]


def _set_aside(old: str) -> None:
    """Rename the current table with its key, indexes and id sequence so the new one can take the names."""
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT pk_{TABLE} TO pk_{old}")
    for column in INDEXED:
        op.execute(f"ALTER INDEX ix_{TABLE}_{column} RENAME TO ix_{old}_{column}")
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq RENAME TO {old}_id_seq")


def _create_indexes() -> None:
    for column in INDEXED:
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])


def _copy(
    source: str,
    features_type: sa.types.TypeEngine,
    convert: Callable[[Any], Any],
    before_insert: Callable[[list[dict]], None],
) -> None:
    """Every row of `source` into the new table, features converted, in chunks; then the id sequence."""
    connection = op.get_bind()
    target = sa.table(TABLE, *[sa.column(column.name, column.type) for column in _columns(features_type)])
    last_id = 0
    while True:
        rows = [
            dict(row)
            for row in connection.execute(
                sa.text(f"SELECT * FROM {source} WHERE id > :last ORDER BY id LIMIT {CHUNK}"), {"last": last_id}
            ).mappings()
        ]
        if not rows:
            break
        for row in rows:
            row["features"] = convert(row["features"])
        before_insert(rows)
        connection.execute(sa.insert(target), rows)
        last_id = rows[-1]["id"]
    connection.execute(
        sa.text(f"SELECT setval('{TABLE}_id_seq', COALESCE((SELECT max(id) FROM {TABLE}), 0) + 1, false)")
    )


def _rewrite_in_place(convert: Callable[[Any], Any], new_type: sa.types.TypeEngine, old_type) -> None:
    """SQLite: the column changes type (a table copy, as SQLite alters) and each value is converted."""
    connection = op.get_bind()
    values = connection.execute(sa.text(f"SELECT id, features FROM {TABLE}")).all()
    with op.batch_alter_table(TABLE) as batch_op:
        batch_op.alter_column("features", existing_type=old_type, type_=new_type, existing_nullable=False)
    table = sa.table(TABLE, sa.column("id"), sa.column("features", new_type))
    for row_id, features in values:
        connection.execute(sa.update(table).where(table.c.id == row_id).values(features=convert(features)))


def _encode(features: Any) -> bytes:
    return feature_vector.encode(features if isinstance(features, dict) else json.loads(features))


def _decode(features: Any) -> dict:
    return feature_vector.decode(bytes(features))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rewrite_in_place(_encode, sa.LargeBinary(), sa.JSON())
        return
    _set_aside("prediction_log_json")
    op.create_table(
        TABLE,
        *_columns(sa.LargeBinary()),
        sa.PrimaryKeyConstraint("id", "served_at", name=f"pk_{TABLE}"),
        postgresql_partition_by="RANGE (served_at)",
    )
    _create_indexes()
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {TABLE} DEFAULT")

    def partitions_for(rows: list[dict]) -> None:
        ensure_partitions(op.get_bind(), {row["served_at"].astimezone(UTC).date() for row in rows})

    _copy("prediction_log_json", sa.LargeBinary(), _encode, partitions_for)
    op.drop_table("prediction_log_json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rewrite_in_place(_decode, sa.JSON(), sa.LargeBinary())
        return
    _set_aside("prediction_log_days")
    op.create_table(TABLE, *_columns(sa.JSON()), sa.PrimaryKeyConstraint("id", name=f"pk_{TABLE}"))
    _create_indexes()
    _copy("prediction_log_days", sa.JSON(), _decode, lambda rows: None)
    op.execute("DROP TABLE prediction_log_days CASCADE")
