"""initial store

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:25:55.505522
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "competitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_competitions")),
        sa.UniqueConstraint("code", name=op.f("uq_competitions_code")),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "succeeded", "failed", "blocked", name="run_status", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_runs_source"), ["source"], unique=False)

    op.create_table(
        "teams",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("country", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "seasons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("competition_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("start_year", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["competition_id"],
            ["competitions.id"],
            name=op.f("fk_seasons_competition_id_competitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seasons")),
        sa.UniqueConstraint("competition_id", "name", name=op.f("uq_seasons_competition_id_name")),
    )
    op.create_table(
        "team_aliases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alias", sa.String(length=128), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_aliases_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_aliases")),
        sa.UniqueConstraint("alias", name=op.f("uq_team_aliases_alias")),
    )
    with op.batch_alter_table("team_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_aliases_team_id"), ["team_id"], unique=False)

    op.create_table(
        "team_source_ids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("source_name", sa.String(length=128), nullable=False),
        sa.Column("team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_source_ids_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_source_ids")),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_team_source_ids_source_source_id")),
    )
    with op.batch_alter_table("team_source_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_source_ids_team_id"), ["team_id"], unique=False)

    op.create_table(
        "matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("season_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("home_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("away_team_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kickoff_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kickoff_time_known", sa.Boolean(), nullable=False),
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
        sa.Column("ht_home_goals", sa.Integer(), nullable=True),
        sa.Column("ht_away_goals", sa.Integer(), nullable=True),
        sa.Column("ft_home_goals", sa.Integer(), nullable=True),
        sa.Column("ft_away_goals", sa.Integer(), nullable=True),
        sa.Column("referee", sa.String(length=128), nullable=True),
        sa.Column("venue", sa.String(length=128), nullable=True),
        sa.Column("attendance", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["away_team_id"], ["teams.id"], name=op.f("fk_matches_away_team_id_teams")),
        sa.ForeignKeyConstraint(["home_team_id"], ["teams.id"], name=op.f("fk_matches_home_team_id_teams")),
        sa.ForeignKeyConstraint(
            ["season_id"], ["seasons.id"], name=op.f("fk_matches_season_id_seasons"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint(
            "season_id", "home_team_id", "away_team_id", name=op.f("uq_matches_season_id_home_team_id_away_team_id")
        ),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_away_team_id"), ["away_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_home_team_id"), ["home_team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_kickoff_utc"), ["kickoff_utc"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_season_id"), ["season_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_matches_status"), ["status"], unique=False)

    op.create_table(
        "match_source_ids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=160), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_source_ids_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_source_ids")),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_match_source_ids_source_source_id")),
    )
    with op.batch_alter_table("match_source_ids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_source_ids_match_id"), ["match_id"], unique=False)

    op.create_table(
        "match_stats",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=True),
        sa.Column("shots_on_target", sa.Integer(), nullable=True),
        sa.Column("fouls", sa.Integer(), nullable=True),
        sa.Column("corners", sa.Integer(), nullable=True),
        sa.Column("yellow_cards", sa.Integer(), nullable=True),
        sa.Column("red_cards", sa.Integer(), nullable=True),
        sa.Column("possession", sa.Float(), nullable=True),
        sa.Column("passes", sa.Integer(), nullable=True),
        sa.Column("pass_accuracy", sa.Float(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("formation", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_match_stats_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_stats")),
        sa.UniqueConstraint("match_id", "source", "side", name=op.f("uq_match_stats_match_id_source_side")),
    )
    with op.batch_alter_table("match_stats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_match_stats_match_id"), ["match_id"], unique=False)

    op.create_table(
        "odds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bookmaker", sa.String(length=16), nullable=False),
        sa.Column(
            "kind", sa.Enum("opening", "closing", name="odds_kind", native_enum=False, length=16), nullable=False
        ),
        sa.Column("home", sa.Float(), nullable=False),
        sa.Column("draw", sa.Float(), nullable=False),
        sa.Column("away", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"], ["matches.id"], name=op.f("fk_odds_match_id_matches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_odds")),
        sa.UniqueConstraint("match_id", "bookmaker", "kind", name=op.f("uq_odds_match_id_bookmaker_kind")),
    )
    with op.batch_alter_table("odds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_odds_match_id"), ["match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("odds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_odds_match_id"))

    op.drop_table("odds")
    with op.batch_alter_table("match_stats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_stats_match_id"))

    op.drop_table("match_stats")
    with op.batch_alter_table("match_source_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_source_ids_match_id"))

    op.drop_table("match_source_ids")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_status"))
        batch_op.drop_index(batch_op.f("ix_matches_season_id"))
        batch_op.drop_index(batch_op.f("ix_matches_kickoff_utc"))
        batch_op.drop_index(batch_op.f("ix_matches_home_team_id"))
        batch_op.drop_index(batch_op.f("ix_matches_away_team_id"))

    op.drop_table("matches")
    with op.batch_alter_table("team_source_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_source_ids_team_id"))

    op.drop_table("team_source_ids")
    with op.batch_alter_table("team_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_aliases_team_id"))

    op.drop_table("team_aliases")
    op.drop_table("seasons")
    op.drop_table("teams")
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_runs_source"))

    op.drop_table("ingest_runs")
    op.drop_table("competitions")
