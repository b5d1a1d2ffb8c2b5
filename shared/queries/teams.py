"""The teams of a league's season, for the web app's pickers: names exactly as POST /predict resolves them.

A team is in a season when it plays a match of it (fixtures count, so a season loaded but not yet
played lists its teams). Without a season each league's latest one is used: last season's relegated
sides drop out of the picker, promoted ones come in.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from shared.db.models import Match, Team

# the tables' season choice, and its NotFound naming the leagues and seasons the store does hold
from shared.queries.standings import _select_seasons


class LeagueTeam(BaseModel):
    team_id: int
    name: str = Field(examples=["Man United"])
    league: str = Field(examples=["E0"])
    league_name: str = Field(examples=["Premier League"])
    season: str = Field(examples=["2021-2022"])


class TeamsResponse(BaseModel):
    league: str | None
    season: str | None
    search: str | None
    teams: list[LeagueTeam] = Field(description="by league, then name")


def league_teams(session: Session, league: str | None, season: str | None, search: str | None) -> TeamsResponse:
    """Teams of `season` (default: each league's latest) of `league` (default: every league) whose name
    contains `search` (case-insensitive)."""
    seasons = {chosen.id: chosen for chosen in _select_seasons(session, league, season)}
    playing = union(
        select(Match.season_id, Match.home_team_id.label("team_id")),
        select(Match.season_id, Match.away_team_id.label("team_id")),
    ).subquery("playing")
    query = (
        select(Team.id, Team.name, playing.c.season_id)
        .join(playing, playing.c.team_id == Team.id)
        .where(playing.c.season_id.in_(list(seasons)))
    )
    needle = (search or "").strip()
    if needle:
        query = query.where(func.lower(Team.name).contains(needle.lower(), autoescape=True))
    teams = [
        LeagueTeam(
            team_id=team_id,
            name=name,
            league=seasons[season_id].league,
            league_name=seasons[season_id].league_name,
            season=seasons[season_id].name,
        )
        for team_id, name, season_id in session.execute(query)
    ]
    teams.sort(key=lambda team: (team.league, team.name))
    return TeamsResponse(league=league, season=season, search=needle or None, teams=teams)
