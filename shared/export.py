"""Parquet snapshots of the store, partitioned by league and season.

Keys: `raw/matches/league=E0/season=2019-2020/part-0.parquet` and the same under `raw/odds/`.
Each partition is written as one whole object, so a re-export replaces it atomically.
"""

from __future__ import annotations

import io
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, Select, select

from shared.db.match_join import MatchJoin
from shared.db.models import Competition, Match, Odds, Season
from shared.serving.teams import TeamDirectory
from shared.storage import ObjectStore

MATCH_SCHEMA = pa.schema(
    [
        ("match_id", pa.int64()),
        ("league", pa.string()),
        ("season", pa.string()),
        ("kickoff_utc", pa.timestamp("us", tz="UTC")),
        ("kickoff_time_known", pa.bool_()),
        ("status", pa.string()),
        ("home_team_id", pa.int64()),
        ("home_team", pa.string()),
        ("away_team_id", pa.int64()),
        ("away_team", pa.string()),
        ("ht_home_goals", pa.int32()),
        ("ht_away_goals", pa.int32()),
        ("ft_home_goals", pa.int32()),
        ("ft_away_goals", pa.int32()),
        ("referee", pa.string()),
        ("venue", pa.string()),
        ("attendance", pa.int32()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
ODDS_SCHEMA = pa.schema(
    [
        ("match_id", pa.int64()),
        ("league", pa.string()),
        ("season", pa.string()),
        ("bookmaker", pa.string()),
        ("kind", pa.string()),
        ("home", pa.float64()),
        ("draw", pa.float64()),
        ("away", pa.float64()),
    ]
)


@dataclass(frozen=True)
class ExportedObject:
    dataset: str
    league: str
    season: str
    key: str
    rows: int
    location: str


def partition_key(dataset: str, league: str, season: str) -> str:
    return f"raw/{dataset}/league={league}/season={season}/part-0.parquet"


def matches_table(engine: Engine) -> pa.Table:
    teams = MatchJoin()
    query = teams.select(
        Match.id,
        Competition.code,
        Season.name,
        Match.kickoff_utc,
        Match.kickoff_time_known,
        Match.status,
        Match.home_team_id,
        teams.home.name,
        Match.away_team_id,
        teams.away.name,
        Match.ht_home_goals,
        Match.ht_away_goals,
        Match.ft_home_goals,
        Match.ft_away_goals,
        Match.referee,
        Match.venue,
        Match.attendance,
        Match.updated_at,
    ).order_by(Match.kickoff_utc, Match.id)
    return _arrow_table(engine, query, MATCH_SCHEMA, enum_column="status")


def odds_table(engine: Engine) -> pa.Table:
    query = (
        select(Odds.match_id, Competition.code, Season.name, Odds.bookmaker, Odds.kind, Odds.home, Odds.draw, Odds.away)
        .join(Match, Odds.match_id == Match.id)
        .join(Season, Match.season_id == Season.id)
        .join(Competition, Season.competition_id == Competition.id)
        .order_by(Odds.match_id, Odds.bookmaker, Odds.kind)
    )
    return _arrow_table(engine, query, ODDS_SCHEMA, enum_column="kind")


def _arrow_table(engine: Engine, query: Select[Any], schema: pa.Schema, enum_column: str) -> pa.Table:
    """The query's rows as columns of `schema`; `enum_column` holds enum members, written as their values."""
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    enum_index = schema.get_field_index(enum_column)
    columns[enum_index] = [str(member.value) for member in columns[enum_index]]
    return pa.table([pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def write_partitions(store: ObjectStore, dataset: str, table: pa.Table) -> list[ExportedObject]:
    exported = []
    partitions = table.select(["league", "season"]).group_by(["league", "season"]).aggregate([]).to_pylist()
    for part in sorted(partitions, key=lambda p: (p["league"], p["season"])):
        mask = pc.and_(pc.equal(table["league"], part["league"]), pc.equal(table["season"], part["season"]))
        subset = table.filter(mask)
        key = partition_key(dataset, part["league"], part["season"])
        store.put_bytes(key, _parquet_bytes(subset), content_type="application/vnd.apache.parquet")
        exported.append(
            ExportedObject(dataset, part["league"], part["season"], key, subset.num_rows, store.location(key))
        )
    return exported


def export_store(engine: Engine, store: ObjectStore, leagues: Collection[str] = ()) -> list[ExportedObject]:
    """Every league's partitions, or only those of `leagues` (football-data codes); and every league's
    team directory, which POST /predict reads instead of the database."""
    TeamDirectory.load(engine).write(store)
    tables = {"matches": matches_table(engine), "odds": odds_table(engine)}
    if leagues:
        chosen = pa.array(sorted(leagues), pa.string())
        tables = {name: table.filter(pc.is_in(table["league"], value_set=chosen)) for name, table in tables.items()}
    return [exported for name, table in tables.items() for exported in write_partitions(store, name, table)]


def read_dataset(store: ObjectStore, dataset: str) -> pa.Table:
    """Every partition of one dataset, concatenated (the ML pipeline's input)."""
    schema = {"matches": MATCH_SCHEMA, "odds": ODDS_SCHEMA}[dataset]
    tables = [
        pq.read_table(io.BytesIO(store.get_bytes(key)), schema=schema)
        for key in store.list_keys(f"raw/{dataset}/")
        if key.endswith(".parquet")
    ]
    return pa.concat_tables(tables) if tables else schema.empty_table()
