"""match day: live state, live snapshots, preview history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:30:14.690772

The match-day tick (shared/matchday) writes a match's current live state (match_live), every distinct
live state it read (match_live_snapshots) and every version of its preview (match_previews), each with
the times WhoScored was read.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_live",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "live",
                "finished",
                "postponed",
                "cancelled",
                name="match_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("minute", sa.String(length=16), nullable=True),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("home_red_cards", sa.Integer(), nullable=False),
        sa.Column("away_red_cards", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_live_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_live")),
        sa.UniqueConstraint("match_id", name=op.f("uq_match_live_match_id")),
    )
    op.create_table(
        "match_live_snapshots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state_key", sa.String(length=128), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled",
                "live",
                "finished",
                "postponed",
                "cancelled",
                name="match_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("minute", sa.String(length=16), nullable=True),
        sa.Column("home_goals", sa.Integer(), nullable=True),
        sa.Column("away_goals", sa.Integer(), nullable=True),
        sa.Column("home_red_cards", sa.Integer(), nullable=False),
        sa.Column("away_red_cards", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=64), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_live_snapshots_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_live_snapshots")),
        sa.UniqueConstraint("match_id", "state_key", name=op.f("uq_match_live_snapshots_match_id_state_key")),
    )
    with op.batch_alter_table("match_live_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_live_snapshots_fetched_at"), ["fetched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_match_live_snapshots_match_id"), ["match_id"], unique=False)

    op.create_table(
        "match_previews",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("first_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fetch_count", sa.Integer(), nullable=False),
        sa.Column("home_formation", sa.String(length=16), nullable=True),
        sa.Column("away_formation", sa.String(length=16), nullable=True),
        sa.Column("lineups", sa.JSON(), nullable=False),
        sa.Column("missing", sa.JSON(), nullable=False),
        sa.Column("change", sa.String(length=128), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_previews_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_previews")),
        sa.UniqueConstraint("match_id", "first_fetched_at", name=op.f("uq_match_previews_match_id_first_fetched_at")),
    )
    with op.batch_alter_table("match_previews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_previews_first_fetched_at"), ["first_fetched_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_match_previews_match_id"), ["match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match_previews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_previews_match_id"))
        batch_op.drop_index(batch_op.f("ix_match_previews_first_fetched_at"))

    op.drop_table("match_previews")
    with op.batch_alter_table("match_live_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_live_snapshots_match_id"))
        batch_op.drop_index(batch_op.f("ix_match_live_snapshots_fetched_at"))

    op.drop_table("match_live_snapshots")
    op.drop_table("match_live")
