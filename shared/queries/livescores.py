"""Scores of the matches being played now and of those that finished recently."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session, aliased

from shared.db.models import Competition, Match, MatchStatus, Season, Team

MAX_HOURS = 72


class MatchScore(BaseModel):
    match_id: int
    league: str = Field(examples=["E0"])
    league_name: str = Field(examples=["Premier League"])
    season: str = Field(examples=["2021-2022"])
    kickoff_utc: datetime
    status: Literal["live", "finished"]
    home_team: str
    away_team: str
    home_goals: int | None = Field(description="current score while live, final score once finished")
    away_goals: int | None
    half_time_home_goals: int | None
    half_time_away_goals: int | None


class LivescoresResponse(BaseModel):
    as_of: datetime = Field(description="the UTC time the window ends at")
    hours: int
    league: str | None
    matches: list[MatchScore] = Field(description="live matches first, then by kick-off, latest first")


def livescores(session: Session, now: datetime, hours: int, league: str | None) -> LivescoresResponse:
    """Matches live now, and matches finished whose kick-off lies within the last `hours`."""
    home, away = aliased(Team), aliased(Team)
    is_live = Match.status == MatchStatus.live
    recently_finished = and_(
        Match.status == MatchStatus.finished,
        Match.kickoff_utc >= now - timedelta(hours=hours),
        Match.kickoff_utc <= now,
    )
    query = (
        select(
            Match.id.label("match_id"),
            Competition.code.label("league"),
            Competition.name.label("league_name"),
            Season.name.label("season"),
            Match.kickoff_utc,
            Match.status,
            home.name.label("home_team"),
            away.name.label("away_team"),
            Match.ft_home_goals.label("home_goals"),
            Match.ft_away_goals.label("away_goals"),
            Match.ht_home_goals.label("half_time_home_goals"),
            Match.ht_away_goals.label("half_time_away_goals"),
        )
        .join(Season, Season.id == Match.season_id)
        .join(Competition, Competition.id == Season.competition_id)
        .join(home, home.id == Match.home_team_id)
        .join(away, away.id == Match.away_team_id)
        .where(or_(is_live, recently_finished))
        .order_by(case((is_live, 0), else_=1), Match.kickoff_utc.desc(), Match.id)
    )
    if league is not None:
        query = query.where(Competition.code == league)
    matches = [MatchScore.model_validate(row._mapping) for row in session.execute(query)]
    return LivescoresResponse(as_of=now, hours=hours, league=league, matches=matches)
