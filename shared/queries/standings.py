"""League tables computed from the store's matches: the database aggregates, Python only ranks.

Every match of a selected season counts its two teams, so a season whose fixtures are loaded but
not yet played shows every team on zero rather than an empty table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, ColumnExpressionArgument, Select, Subquery, and_, case, func, select, union_all
from sqlalchemy.orm import Session, aliased

from shared.db.models import Competition, Match, MatchStatus, Season, Team
from shared.errors import NotFound

POINTS_FOR_WIN = 3
POINTS_FOR_DRAW = 1


class NoSuchSeason(NotFound):
    """The filters name data the store does not hold (404); the message says what it does hold."""


class StandingRow(BaseModel):
    position: int
    team_id: int
    team: str
    played: int
    won: int
    drawn: int
    lost: int
    goals_for: int
    goals_against: int
    goal_difference: int
    points: int
    form: str = Field(description="results of the last N finished matches, W/D/L, most recent last", examples=["WWDLW"])


class LeagueTable(BaseModel):
    league: str = Field(examples=["E0"])
    league_name: str = Field(examples=["Premier League"])
    country: str
    season: str = Field(examples=["2021-2022"])
    standings: list[StandingRow]


class StandingsResponse(BaseModel):
    form_length: int
    tables: list[LeagueTable]


@dataclass(frozen=True)
class SelectedSeason:
    id: int
    name: str
    league: str
    league_name: str
    country: str


def league_tables(session: Session, league: str | None, season: str | None, form_length: int) -> StandingsResponse:
    """Tables of `season` (default: each league's latest) of `league` (default: every league)."""
    seasons = _select_seasons(session, league, season)
    ids = [s.id for s in seasons]
    sides = _team_sides(ids)
    totals = _totals(session, sides)
    forms = _forms(session, sides, form_length)
    tables = [
        LeagueTable(
            league=s.league,
            league_name=s.league_name,
            country=s.country,
            season=s.name,
            standings=_rank(totals.get(s.id, []), forms.get(s.id, {})),
        )
        for s in seasons
    ]
    return StandingsResponse(form_length=form_length, tables=tables)


# --- which seasons ----------------------------------------------------------------------------


def _select_seasons(session: Session, league: str | None, season: str | None) -> list[SelectedSeason]:
    query = select(Season.id, Season.name, Competition.code, Competition.name, Competition.country).join(Competition)
    if league is not None:
        query = query.where(Competition.code == league)
    if season is not None:
        query = query.where(Season.name == season)
    else:
        later = aliased(Season)
        latest = select(func.max(later.start_year)).where(later.competition_id == Season.competition_id)
        query = query.where(Season.start_year == latest.scalar_subquery())
    rows = session.execute(query.order_by(Competition.code, Season.start_year)).all()
    if not rows and (league is not None or season is not None):
        raise NoSuchSeason(_missing_message(session, league, season))
    return [SelectedSeason(*row) for row in rows]


def _missing_message(session: Session, league: str | None, season: str | None) -> str:
    leagues = session.scalars(select(Competition.code).join(Season).distinct().order_by(Competition.code)).all()
    if league is not None and league not in leagues:
        return f"no matches of league {league} in the store; leagues with data: {_listing(leagues)}"
    names = select(Season.name).join(Competition).distinct().order_by(Season.name)
    if league is not None:
        names = names.where(Competition.code == league)
    where = f"league {league}" if league else "any league"
    return f"no season {season!r} of {where} in the store; available seasons: {_listing(session.scalars(names).all())}"


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none (the store is empty)"


# --- aggregation ------------------------------------------------------------------------------


def _team_sides(season_ids: list[int]) -> Subquery:
    """Each match twice, once from each team's side, so one GROUP BY builds the table."""

    def side(
        team: ColumnExpressionArgument[int],
        scored: ColumnExpressionArgument[int | None],
        conceded: ColumnExpressionArgument[int | None],
    ) -> Select:
        return select(
            Match.season_id,
            team.label("team_id"),
            scored.label("goals_for"),
            conceded.label("goals_against"),
            Match.status,
            Match.kickoff_utc,
        ).where(Match.season_id.in_(season_ids))

    return union_all(
        side(Match.home_team_id, Match.ft_home_goals, Match.ft_away_goals),
        side(Match.away_team_id, Match.ft_away_goals, Match.ft_home_goals),
    ).subquery("sides")


@dataclass(frozen=True)
class _Totals:
    team_id: int
    team: str
    played: int
    won: int
    drawn: int
    lost: int
    goals_for: int
    goals_against: int

    @property
    def points(self) -> int:
        return POINTS_FOR_WIN * self.won + POINTS_FOR_DRAW * self.drawn


def _totals(session: Session, sides: Subquery) -> dict[int, list[_Totals]]:
    finished = sides.c.status == MatchStatus.finished

    def count_when(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            sides.c.season_id,
            sides.c.team_id,
            Team.name,
            count_when(finished),
            count_when(and_(finished, sides.c.goals_for > sides.c.goals_against)),
            count_when(and_(finished, sides.c.goals_for == sides.c.goals_against)),
            count_when(and_(finished, sides.c.goals_for < sides.c.goals_against)),
            func.sum(case((finished, sides.c.goals_for), else_=0)),
            func.sum(case((finished, sides.c.goals_against), else_=0)),
        )
        .join(Team, Team.id == sides.c.team_id)
        .group_by(sides.c.season_id, sides.c.team_id, Team.name)
    )
    totals: dict[int, list[_Totals]] = defaultdict(list)
    for season_id, *values in session.execute(query):
        totals[season_id].append(_Totals(*values))
    return totals


def _forms(session: Session, sides: Subquery, length: int) -> dict[int, dict[int, str]]:
    result = case(
        (sides.c.goals_for > sides.c.goals_against, "W"),
        (sides.c.goals_for == sides.c.goals_against, "D"),
        else_="L",
    )
    recency = func.row_number().over(
        partition_by=(sides.c.season_id, sides.c.team_id), order_by=sides.c.kickoff_utc.desc()
    )
    recent = (
        select(sides.c.season_id, sides.c.team_id, result.label("result"), recency.label("recency"))
        .where(sides.c.status == MatchStatus.finished)
        .subquery("recent")
    )
    query = (
        select(recent.c.season_id, recent.c.team_id, recent.c.result)
        .where(recent.c.recency <= length)
        .order_by(recent.c.season_id, recent.c.team_id, recent.c.recency.desc())
    )
    forms: dict[int, dict[int, str]] = defaultdict(lambda: defaultdict(str))
    for season_id, team_id, outcome in session.execute(query):
        forms[season_id][team_id] += outcome
    return forms


def _rank(totals: list[_Totals], forms: dict[int, str]) -> list[StandingRow]:
    ordered = sorted(totals, key=lambda t: (-t.points, -(t.goals_for - t.goals_against), -t.goals_for, t.team))
    return [
        StandingRow(
            position=position,
            team_id=t.team_id,
            team=t.team,
            played=t.played,
            won=t.won,
            drawn=t.drawn,
            lost=t.lost,
            goals_for=t.goals_for,
            goals_against=t.goals_against,
            goal_difference=t.goals_for - t.goals_against,
            points=t.points,
            form=forms.get(t.team_id, ""),
        )
        for position, t in enumerate(ordered, start=1)
    ]
