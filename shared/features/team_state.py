"""The per-team state machine: what the features of a team's next match are computed from.

A state only moves forward: `enter_season` (summer regression, promoted clubs) and
`apply_result` (a finished match). Both the offline table and the online path drive it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from shared.features.params import FeatureParams
from shared.features.ratings import elo_delta, pi_error_weight, pi_match_expectation

FormEntry = tuple[int, int, int]  # goals for, goals against, points


@dataclass(slots=True)
class TeamState:
    team_id: int
    league: str
    season: str
    elo: float
    pi_home: float
    pi_away: float
    market: float = 0.0  # odds-implied strength, log(p_home / p_away) units (shared.features.ratings)
    last_kickoff: datetime | None = None
    season_matches: int = 0
    form: deque[FormEntry] = field(default_factory=deque)
    home_form: deque[FormEntry] = field(default_factory=deque)
    away_form: deque[FormEntry] = field(default_factory=deque)

    def to_dict(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "league": self.league,
            "season": self.season,
            "elo": self.elo,
            "pi_home": self.pi_home,
            "pi_away": self.pi_away,
            "market": self.market,
            "last_kickoff": self.last_kickoff.isoformat() if self.last_kickoff else None,
            "season_matches": self.season_matches,
            "form": [list(entry) for entry in self.form],
            "home_form": [list(entry) for entry in self.home_form],
            "away_form": [list(entry) for entry in self.away_form],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], params: FeatureParams) -> TeamState:
        def buffer(entries: list[list[int]]) -> deque[FormEntry]:
            return deque((tuple(e) for e in entries), maxlen=params.form_window)  # type: ignore[misc]

        return cls(
            team_id=int(data["team_id"]),
            league=data["league"],
            season=data["season"],
            elo=float(data["elo"]),
            pi_home=float(data["pi_home"]),
            pi_away=float(data["pi_away"]),
            market=float(data.get("market", 0.0)),  # states saved before market ratings existed
            last_kickoff=datetime.fromisoformat(data["last_kickoff"]) if data["last_kickoff"] else None,
            season_matches=int(data["season_matches"]),
            form=buffer(data["form"]),
            home_form=buffer(data["home_form"]),
            away_form=buffer(data["away_form"]),
        )


def season_start_year(season: str) -> int:
    return int(season[:4])


def new_team(team_id: int, league: str, season: str, promoted: bool, params: FeatureParams) -> TeamState:
    """A club first seen in a league: neutral in the league's first season, else a promoted club."""
    window = params.form_window
    return TeamState(
        team_id=team_id,
        league=league,
        season=season,
        elo=params.elo_initial - (params.promoted_elo_gap if promoted else 0.0),
        pi_home=params.promoted_pi if promoted else 0.0,
        pi_away=params.promoted_pi if promoted else 0.0,
        market=params.market_promoted if promoted else 0.0,
        form=deque(maxlen=window),
        home_form=deque(maxlen=window),
        away_form=deque(maxlen=window),
    )


def enter_season(state: TeamState, season: str, params: FeatureParams) -> TeamState:
    """The state a team starts `season` with. Idempotent: the same season returns the same state.

    A club back after a season or more away (relegated, then promoted) starts as a promoted club:
    its old ratings describe a different squad in a different league.
    """
    if state.season == season:
        return state
    gap = season_start_year(season) - season_start_year(state.season)
    if gap > 1:
        fresh = new_team(state.team_id, state.league, season, promoted=True, params=params)
        fresh.last_kickoff = state.last_kickoff
        return fresh
    keep = 1.0 - params.season_regression
    return replace(
        state,
        season=season,
        elo=params.elo_initial + (state.elo - params.elo_initial) * keep,
        pi_home=state.pi_home * keep,
        pi_away=state.pi_away * keep,
        market=state.market * (1.0 - params.market_season_regression),
        season_matches=0,
        form=deque(state.form, maxlen=params.form_window),
        home_form=deque(state.home_form, maxlen=params.form_window),
        away_form=deque(state.away_form, maxlen=params.form_window),
    )


def _points(goals_for: int, goals_against: int) -> int:
    return 3 if goals_for > goals_against else 1 if goals_for == goals_against else 0


def apply_result(
    home: TeamState, away: TeamState, home_goals: int, away_goals: int, kickoff: datetime, params: FeatureParams
) -> None:
    """Update both teams in place with one finished match."""
    elo_change = elo_delta(home.elo, away.elo, home_goals, away_goals, params)
    home.elo += elo_change
    away.elo -= elo_change

    expected = pi_match_expectation(home.pi_home, away.pi_away, params)
    weight = pi_error_weight(expected, home_goals - away_goals, params)
    home_change = weight * params.pi_learning_rate
    away_change = -weight * params.pi_learning_rate
    home.pi_home += home_change
    home.pi_away += home_change * params.pi_cross_rate
    away.pi_away += away_change
    away.pi_home += away_change * params.pi_cross_rate

    home_entry = (home_goals, away_goals, _points(home_goals, away_goals))
    away_entry = (away_goals, home_goals, _points(away_goals, home_goals))
    home.form.append(home_entry)
    home.home_form.append(home_entry)
    away.form.append(away_entry)
    away.away_form.append(away_entry)
    for state in (home, away):
        state.last_kickoff = kickoff
        state.season_matches += 1
