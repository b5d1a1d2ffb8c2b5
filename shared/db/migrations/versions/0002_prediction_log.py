"""prediction log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:35:30.084612
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
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
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_log")),
    )
    with op.batch_alter_table("prediction_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prediction_log_match_id"), ["match_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_log_model_version"), ["model_version"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_log_served_at"), ["served_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prediction_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_log_served_at"))
        batch_op.drop_index(batch_op.f("ix_prediction_log_model_version"))
        batch_op.drop_index(batch_op.f("ix_prediction_log_match_id"))

    op.drop_table("prediction_log")
