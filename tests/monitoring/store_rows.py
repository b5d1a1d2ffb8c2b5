"""Store rows for the monitoring tests: a league, matches with opening prices, logged predictions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert

from shared.db.models import Competition, Match, MatchStatus, Odds, OddsKind, PredictionLog, Season, Team
from shared.db.session import transaction

KICKOFF = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


class League:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with transaction(engine) as session:
            competition = session.scalars(
                insert(Competition).returning(Competition.id), [{"code": "E0", "name": "Premier", "country": "England"}]
            ).one()
            self.season_id = session.scalars(
                insert(Season).returning(Season.id),
                [{"competition_id": competition, "name": "2026-2027", "start_year": 2026}],
            ).one()
            self.teams = list(
                session.scalars(
                    insert(Team).returning(Team.id),
                    [{"name": f"Team {n}", "country": "England"} for n in range(8)],
                )
            )

    def match(
        self,
        home: int,
        away: int,
        kickoff: datetime = KICKOFF,
        goals: tuple[int, int] | None = None,
        opening: dict[str, tuple[float, float, float]] | None = None,
    ) -> int:
        with transaction(self.engine) as session:
            match_id = session.scalars(
                insert(Match).returning(Match.id),
                [
                    {
                        "season_id": self.season_id,
                        "home_team_id": self.teams[home],
                        "away_team_id": self.teams[away],
                        "kickoff_utc": kickoff,
                        "status": MatchStatus.finished if goals else MatchStatus.scheduled,
                        "ft_home_goals": goals[0] if goals else None,
                        "ft_away_goals": goals[1] if goals else None,
                        "updated_at": kickoff,
                    }
                ],
            ).one()
            for bookmaker, prices in (opening or {}).items():
                session.execute(
                    insert(Odds),
                    [
                        {
                            "match_id": match_id,
                            "bookmaker": bookmaker,
                            "kind": OddsKind.opening,
                            "home": prices[0],
                            "draw": prices[1],
                            "away": prices[2],
                        }
                    ],
                )
        return match_id

    def predict(
        self,
        served_at: datetime,
        probabilities: tuple[float, float, float],
        version: str = "1",
        match_id: int | None = None,
        teams: tuple[int, int] = (0, 1),
        kickoff: datetime = KICKOFF,
        features: dict[str, Any] | None = None,
    ) -> None:
        team_ids = (self.teams[teams[0]], self.teams[teams[1]])
        log_prediction(self.engine, served_at, probabilities, version, match_id, team_ids, kickoff, features)


def log_prediction(
    engine: Engine,
    served_at: datetime,
    probabilities: tuple[float, float, float],
    version: str,
    match_id: int | None,
    team_ids: tuple[int, int],
    kickoff: datetime,
    features: dict[str, Any] | None = None,
) -> None:
    """One row of the prediction log, as POST /predict writes it."""
    with transaction(engine) as session:
        session.execute(
            insert(PredictionLog),
            [
                {
                    "served_at": served_at,
                    "function": "predict",
                    "match_id": match_id,
                    "home_team_id": team_ids[0],
                    "away_team_id": team_ids[1],
                    "kickoff_utc": kickoff,
                    "model_name": "time2bet-outcome",
                    "model_version": version,
                    "p_home": probabilities[0],
                    "p_draw": probabilities[1],
                    "p_away": probabilities[2],
                    "features": features or {},
                    "cached": False,
                    "latency_ms": 1.0,
                }
            ],
        )
