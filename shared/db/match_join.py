"""Matches with their league code, season name and both teams, the join several readers need."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from shared.db.models import Competition, Match, Season, Team


@dataclass(frozen=True)
class MatchJoin:
    home: Any = field(default_factory=lambda: aliased(Team, name="home_team"))
    away: Any = field(default_factory=lambda: aliased(Team, name="away_team"))

    def select(self, *columns: Any) -> Select:
        return (
            select(*columns)
            .select_from(Match)
            .join(Season, Match.season_id == Season.id)
            .join(Competition, Season.competition_id == Competition.id)
            .join(self.home, Match.home_team_id == self.home.id)
            .join(self.away, Match.away_team_id == self.away.id)
        )
