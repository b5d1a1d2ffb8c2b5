"""SQLAlchemy 2 models of the authoritative store.

Natural keys are enforced by unique constraints so that every writer can upsert: a team is
one row per club whatever its spelling (names resolve through `team_aliases`, ids from each
data source through `team_source_ids`), a match is one row per (season, home, away), and each
data source's own match id is kept in `match_source_ids`.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db.feature_vector import CompactFeatures

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY, PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps UTC-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class MatchStatus(enum.StrEnum):
    scheduled = "scheduled"
    live = "live"
    finished = "finished"
    postponed = "postponed"
    cancelled = "cancelled"


class OddsKind(enum.StrEnum):
    opening = "opening"  # pre-match prices (football-data collects them before the weekend)
    closing = "closing"  # last prices before kick-off: the market benchmark, never a feature


class RunStatus(enum.StrEnum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    blocked = "blocked"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=16, validate_strings=True)


class Competition(Base):
    __tablename__ = "competitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    country: Mapped[str] = mapped_column(String(64))


class Season(Base):
    __tablename__ = "seasons"
    __table_args__ = (UniqueConstraint("competition_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))  # "2019-2020"
    start_year: Mapped[int] = mapped_column(Integer)

    competition: Mapped[Competition] = relationship()


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    country: Mapped[str | None] = mapped_column(String(64))


class TeamAlias(Base):
    """Every spelling seen for a team, normalised (see shared.team_names.normalise_name)."""

    __tablename__ = "team_aliases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)


class TeamSourceId(Base):
    __tablename__ = "team_source_ids"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(128))
    source_name: Mapped[str] = mapped_column(String(128))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("season_id", "home_team_id", "away_team_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    season_id: Mapped[int] = mapped_column(ForeignKey("seasons.id", ondelete="CASCADE"), index=True)
    home_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    away_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    kickoff_utc: Mapped[datetime] = mapped_column(index=True)
    # football-data has no kick-off time before 2019-20: such kick-offs are noon UTC on the day.
    kickoff_time_known: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[MatchStatus] = mapped_column(_enum(MatchStatus, "match_status"), index=True)
    ht_home_goals: Mapped[int | None] = mapped_column(Integer)
    ht_away_goals: Mapped[int | None] = mapped_column(Integer)
    ft_home_goals: Mapped[int | None] = mapped_column(Integer)
    ft_away_goals: Mapped[int | None] = mapped_column(Integer)
    referee: Mapped[str | None] = mapped_column(String(128))
    venue: Mapped[str | None] = mapped_column(String(128))
    attendance: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]

    season: Mapped[Season] = relationship()
    home_team: Mapped[Team] = relationship(foreign_keys=[home_team_id])
    away_team: Mapped[Team] = relationship(foreign_keys=[away_team_id])


class MatchSourceId(Base):
    __tablename__ = "match_source_ids"
    __table_args__ = (UniqueConstraint("source", "source_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(160))
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)


class MatchStats(Base):
    """One team's statistics in one match, as one data source reports them."""

    __tablename__ = "match_stats"
    __table_args__ = (UniqueConstraint("match_id", "source", "side"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))  # "home" | "away"
    shots: Mapped[int | None] = mapped_column(Integer)
    shots_on_target: Mapped[int | None] = mapped_column(Integer)
    fouls: Mapped[int | None] = mapped_column(Integer)
    corners: Mapped[int | None] = mapped_column(Integer)
    yellow_cards: Mapped[int | None] = mapped_column(Integer)
    red_cards: Mapped[int | None] = mapped_column(Integer)
    possession: Mapped[float | None] = mapped_column(Float)
    passes: Mapped[int | None] = mapped_column(Integer)
    pass_accuracy: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[float | None] = mapped_column(Float)
    formation: Mapped[str | None] = mapped_column(String(16))


class Odds(Base):
    """1X2 decimal odds of one bookmaker (or market aggregate such as Avg/Max) for one match."""

    __tablename__ = "odds"
    __table_args__ = (UniqueConstraint("match_id", "bookmaker", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    bookmaker: Mapped[str] = mapped_column(String(16))  # football-data column family: B365, PS, Avg, BbMx...
    kind: Mapped[OddsKind] = mapped_column(_enum(OddsKind, "odds_kind"))
    home: Mapped[float] = mapped_column(Float)
    draw: Mapped[float] = mapped_column(Float)
    away: Mapped[float] = mapped_column(Float)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(512))  # file path, URL or scrape request
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus, "run_status"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)


class PredictionLog(Base):
    """What was served: inputs, model version, probabilities. The drift report and live evaluation read it.

    On PostgreSQL the table is partitioned by day of `served_at` (primary key: id, served_at; migration
    0006, shared/prediction_log_maintenance.py); SQLite keeps one table."""

    __tablename__ = "prediction_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    served_at: Mapped[datetime] = mapped_column(index=True)
    function: Mapped[str] = mapped_column(String(40))
    match_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # no FK: a log outlives matches
    home_team_id: Mapped[int] = mapped_column(BigInteger)
    away_team_id: Mapped[int] = mapped_column(BigInteger)
    kickoff_utc: Mapped[datetime]
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32), index=True)
    p_home: Mapped[float] = mapped_column(Float)
    p_draw: Mapped[float] = mapped_column(Float)
    p_away: Mapped[float] = mapped_column(Float)
    features: Mapped[dict] = mapped_column(CompactFeatures)  # a positional vector: shared/db/feature_vector.py
    cached: Mapped[bool] = mapped_column(Boolean)
    latency_ms: Mapped[float] = mapped_column(Float)


class DeadLetter(Base):
    """An event a Trigger gave up on, as the dead-letter sink received it: stored once per source + id."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("event_id", "event_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(256))
    event_source: Mapped[str] = mapped_column(String(512))
    event_type: Mapped[str] = mapped_column(String(128), index=True)
    error_code: Mapped[int | None] = mapped_column(Integer)  # knativeerrorcode: the subscriber's last HTTP status
    error_data: Mapped[str | None] = mapped_column(Text)  # knativeerrordata: its answer (Knative keeps 1 KiB)
    error_dest: Mapped[str | None] = mapped_column(String(512))  # knativeerrordest: the subscriber
    attempts: Mapped[int | None] = mapped_column(Integer)  # t2battempts
    trigger: Mapped[str | None] = mapped_column(String(128))  # t2btrigger
    event: Mapped[dict] = mapped_column(JSON)  # the whole event in structured-mode JSON
    received_at: Mapped[datetime] = mapped_column(index=True)


class PredictionSettlement(Base):
    """A logged pre-kickoff prediction scored once its match finished, beside the pre-kickoff market
    on the same match: one row per model version and match (its last prediction before kick-off)."""

    __tablename__ = "prediction_settlements"
    __table_args__ = (UniqueConstraint("model_name", "model_version", "match_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(32), index=True)
    match_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK, like the prediction log
    prediction_id: Mapped[int] = mapped_column(BigInteger)
    kickoff_utc: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[int] = mapped_column(Integer)  # 0 home, 1 draw, 2 away
    p_home: Mapped[float] = mapped_column(Float)
    p_draw: Mapped[float] = mapped_column(Float)
    p_away: Mapped[float] = mapped_column(Float)
    rps: Mapped[float] = mapped_column(Float)
    log_loss: Mapped[float] = mapped_column(Float)
    # The de-vigged pre-kickoff prices of the same match; null when no bookmaker quoted all three.
    market_bookmaker: Mapped[str | None] = mapped_column(String(16))
    market_rps: Mapped[float | None] = mapped_column(Float)
    market_log_loss: Mapped[float | None] = mapped_column(Float)
    settled_at: Mapped[datetime]


class WorkflowRun(Base):
    """One finished Argo workflow (or local run of one), as its exit handler's event reported it."""

    __tablename__ = "workflow_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workflow: Mapped[str] = mapped_column(String(256), unique=True)  # Argo's run name: one row per run
    pipeline: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # Succeeded | Failed | Error
    failed_step: Mapped[str | None] = mapped_column(String(256))
    message: Mapped[str | None] = mapped_column(Text)
    duration_s: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[datetime] = mapped_column(index=True)
    event_id: Mapped[str] = mapped_column(String(256))


class LiveStateColumns:
    """A live state as read from WhoScored's match centre: the current row and the history share it."""

    status: Mapped[MatchStatus] = mapped_column(_enum(MatchStatus, "match_status"))
    minute: Mapped[str | None] = mapped_column(String(16))  # "10", "45+2", "HT", "FT"
    home_goals: Mapped[int | None] = mapped_column(Integer)
    away_goals: Mapped[int | None] = mapped_column(Integer)
    home_red_cards: Mapped[int] = mapped_column(Integer)
    away_red_cards: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)  # the match centre's event list (kept in the object store)


class MatchLive(LiveStateColumns, Base):
    """A match's live state as the match-day tick last read it from WhoScored's match centre: one row per
    match, overwritten in place; `fetched_at` is the last read, `changed_at` the last read that differed."""

    __tablename__ = "match_live"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), unique=True)
    fetched_at: Mapped[datetime]
    changed_at: Mapped[datetime]


class MatchLiveSnapshot(LiveStateColumns, Base):
    """Every distinct live state read, with the time it was first read: the in-play history. `change`
    names what a reader of scores cares about (status, score, red_cards) or is null for a minute tick;
    `published_at` is set once its match.updated event is out (null + change = still to publish)."""

    __tablename__ = "match_live_snapshots"
    __table_args__ = (UniqueConstraint("match_id", "state_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    state_key: Mapped[str] = mapped_column(String(128))
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    change: Mapped[str | None] = mapped_column(String(64))
    published_at: Mapped[datetime | None]


class MatchPreviewFetch(Base):
    """One version of a match's WhoScored preview (predicted XI, formations, missing players): a new row
    when a fetch differs from the match's latest version, else that row's `last_fetched_at` and
    `fetch_count` move. What was known at time t is the latest row with first_fetched_at <= t."""

    __tablename__ = "match_previews"
    __table_args__ = (UniqueConstraint("match_id", "first_fetched_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    first_fetched_at: Mapped[datetime] = mapped_column(index=True)
    last_fetched_at: Mapped[datetime]
    fetch_count: Mapped[int] = mapped_column(Integer)
    home_formation: Mapped[str | None] = mapped_column(String(16))
    away_formation: Mapped[str | None] = mapped_column(String(16))
    lineups: Mapped[dict] = mapped_column(JSON)  # {"home": [{player_id, name}], "away": [...]}
    missing: Mapped[dict] = mapped_column(JSON)  # {"home": [{player_id, name, reason, status, rating}], ...}
    change: Mapped[str | None] = mapped_column(String(128))  # what differs from the previous version
    published_at: Mapped[datetime | None]
