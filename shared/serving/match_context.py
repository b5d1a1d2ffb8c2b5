"""The match a prediction request is about: a stored match by id, or two team names and a kick-off."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.errors import InvalidInput, NotFound
from shared.features.market import Prices, choose_pre_match
from shared.serving.schemas import PredictRequest
from shared.serving.teams import TeamDirectory, UnknownTeamName
from shared.storage import ObjectStore

if TYPE_CHECKING:
    from sqlalchemy import Engine


class MatchNotFound(NotFound):
    pass


@dataclass(frozen=True)
class MatchContext:
    match_id: int | None
    home_team_id: int
    away_team_id: int
    home_team: str
    away_team: str
    kickoff: datetime
    league: str | None
    season: str | None
    odds: Prices | None


class MatchContexts:
    """Resolves requests against the store: team names through the team directory (loaded once per
    process), stored matches with their pre-kickoff odds (one query each).

    The directory is read from the last export's copy in the object store when there is one: a
    name that copy does not know (a team imported since) loads the database's, once per process.
    The engine is asked for only then, or for a stored match: by-name requests import no database layer.
    """

    def __init__(self, engine: Callable[[], Engine], store: ObjectStore) -> None:
        self._engine = engine
        self._store = store
        self._teams: TeamDirectory | None = None
        self._teams_exported = False  # the directory is the export's copy, not the database's

    @property
    def teams(self) -> TeamDirectory:
        if self._teams is None:
            exported = TeamDirectory.read(self._store)
            self._teams_exported = exported is not None
            self._teams = exported if exported is not None else TeamDirectory.load(self._engine())
        return self._teams

    def _team_id(self, name: str) -> int:
        try:
            return self.teams.resolve(name)
        except UnknownTeamName:
            if not self._teams_exported:
                raise
            self._teams, self._teams_exported = TeamDirectory.load(self._engine()), False
            return self._teams.resolve(name)

    def in_memory(self, request: PredictRequest) -> bool:
        """True when resolving `request` needs no database: teams named and the directory loaded."""
        return request.match_id is None and self._teams is not None

    def of(self, request: PredictRequest) -> MatchContext:
        if request.match_id is not None:
            return self._stored_match(request.match_id)
        assert request.home_team and request.away_team and request.kickoff
        home_id, away_id = self._team_id(request.home_team), self._team_id(request.away_team)
        if home_id == away_id:
            raise InvalidInput("home_team and away_team name the same team")
        odds = (request.odds.home, request.odds.draw, request.odds.away) if request.odds else None
        return MatchContext(
            None,
            home_id,
            away_id,
            self.teams.names[home_id],
            self.teams.names[away_id],
            request.kickoff,
            request.league,
            None,
            odds,
        )

    def _stored_match(self, match_id: int) -> MatchContext:
        from sqlalchemy import select

        from shared.db.match_join import MatchJoin
        from shared.db.models import Competition, Match, Odds, OddsKind, Season

        teams = MatchJoin()
        query = teams.select(
            Match.home_team_id,
            Match.away_team_id,
            teams.home.name,
            teams.away.name,
            Match.kickoff_utc,
            Competition.code,
            Season.name,
        ).where(Match.id == match_id)
        with self._engine().connect() as connection:
            row = connection.execute(query).first()
            if row is None:
                raise MatchNotFound(f"no match with id {match_id}")
            prices = {
                bookmaker: (h, d, a)
                for bookmaker, h, d, a in connection.execute(
                    select(Odds.bookmaker, Odds.home, Odds.draw, Odds.away).where(
                        Odds.match_id == match_id, Odds.kind == OddsKind.opening
                    )
                )
            }
        chosen = choose_pre_match(prices)
        return MatchContext(
            match_id, row[0], row[1], row[2], row[3], row[4], row[5], row[6], chosen[1] if chosen else None
        )
