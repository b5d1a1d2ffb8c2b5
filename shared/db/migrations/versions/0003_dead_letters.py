"""dead letters

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("event_source", sa.String(length=512), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_data", sa.Text(), nullable=True),
        sa.Column("error_dest", sa.String(length=512), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=True),
        sa.Column("trigger", sa.String(length=128), nullable=True),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("event_id", "event_source", name=op.f("uq_dead_letters_event_id_event_source")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letters_event_type"), ["event_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))
        batch_op.drop_index(batch_op.f("ix_dead_letters_event_type"))

    op.drop_table("dead_letters")
