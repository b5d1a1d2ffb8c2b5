"""Scores of the matches being played now and of those that finished recently.

A match read by the match-day tick (shared/matchday) also has its minute, red cards and the time of
the last read; `version` is a validator of everything but the clock (`as_of`, the ages), so a poller
can ask with If-None-Match and get 304 until a match changes or is read again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session, aliased

from shared.db.models import Competition, Match, MatchLive, MatchStatus, Season, Team

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
    minute: str | None = Field(description="the match clock while live (10, 45+2, HT), FT once finished; null unread")
    home_red_cards: int | None = Field(description="null when the match-day tick has not read the match")
    away_red_cards: int | None
    last_update: datetime | None = Field(description="when WhoScored's match centre was last read (UTC)")
    update_age_seconds: float | None = Field(description="seconds from last_update to as_of")


class LivescoresResponse(BaseModel):
    as_of: datetime = Field(description="the UTC time the window ends at")
    hours: int
    league: str | None
    matches: list[MatchScore] = Field(description="live matches first, then by kick-off, latest first")

    @property
    def version(self) -> str:
        """A strong validator of the content that does not move with the clock (as_of, ages)."""
        stable = self.model_dump_json(include={"hours", "league"}) + "".join(
            m.model_dump_json(exclude={"update_age_seconds"}) for m in self.matches
        )
        return hashlib.sha256(stable.encode()).hexdigest()[:32]


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
            MatchLive.minute,
            MatchLive.home_red_cards,
            MatchLive.away_red_cards,
            MatchLive.fetched_at.label("last_update"),
        )
        .join(Season, Season.id == Match.season_id)
        .join(Competition, Competition.id == Season.competition_id)
        .join(home, home.id == Match.home_team_id)
        .join(away, away.id == Match.away_team_id)
        .outerjoin(MatchLive, MatchLive.match_id == Match.id)
        .where(or_(is_live, recently_finished))
        .order_by(case((is_live, 0), else_=1), Match.kickoff_utc.desc(), Match.id)
    )
    if league is not None:
        query = query.where(Competition.code == league)
    matches = [
        MatchScore.model_validate(
            {
                **row._mapping,
                "update_age_seconds": (
                    max(0.0, (now - row.last_update).total_seconds()) if row.last_update is not None else None
                ),
            }
        )
        for row in session.execute(query)
    ]
    return LivescoresResponse(as_of=now, hours=hours, league=league, matches=matches)
