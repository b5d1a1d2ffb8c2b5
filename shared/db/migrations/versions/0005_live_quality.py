"""live quality: prediction settlements

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_settlements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("model_name", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("match_id", sa.BigInteger(), nullable=False),
        sa.Column("prediction_id", sa.BigInteger(), nullable=False),
        sa.Column("kickoff_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Integer(), nullable=False),
        sa.Column("p_home", sa.Float(), nullable=False),
        sa.Column("p_draw", sa.Float(), nullable=False),
        sa.Column("p_away", sa.Float(), nullable=False),
        sa.Column("rps", sa.Float(), nullable=False),
        sa.Column("log_loss", sa.Float(), nullable=False),
        sa.Column("market_bookmaker", sa.String(length=16), nullable=True),
        sa.Column("market_rps", sa.Float(), nullable=True),
        sa.Column("market_log_loss", sa.Float(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_settlements")),
        sa.UniqueConstraint(
            "model_name",
            "model_version",
            "match_id",
            name=op.f("uq_prediction_settlements_model_name_model_version_match_id"),
        ),
    )
    with op.batch_alter_table("prediction_settlements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prediction_settlements_kickoff_utc"), ["kickoff_utc"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_settlements_match_id"), ["match_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prediction_settlements_model_version"), ["model_version"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("prediction_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prediction_settlements_model_version"))
        batch_op.drop_index(batch_op.f("ix_prediction_settlements_match_id"))
        batch_op.drop_index(batch_op.f("ix_prediction_settlements_kickoff_utc"))
    op.drop_table("prediction_settlements")
