"""Materialised team state: the latest ratings and form of every team, for online features.

The offline builder leaves one `FeatureState` behind after its walk through history; saved to the
object store it lets a request compute a match's features with two dictionary look-ups and no
history scan. `online_features` runs exactly the steps the offline walk runs for a match.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.competitions import season_of
from shared.errors import InvalidInput
from shared.features.compute import features_for
from shared.features.market import Prices, valid_prices
from shared.features.params import FeatureParams
from shared.features.ratings import market_rating_error
from shared.features.team_state import TeamState, apply_result, enter_season, new_team
from shared.storage import ObjectStore

TEAM_STATE_KEY = "features/team_state/latest.json"


class UnknownTeam(InvalidInput):
    """A team the feature state has never seen (no match of it in the store)."""


@dataclass
class FeatureState:
    params: FeatureParams
    teams: dict[int, TeamState] = field(default_factory=dict)
    # A club first seen in a league's first season is a founding member, later it was promoted.
    league_first_season: dict[str, str] = field(default_factory=dict)
    # Each league's home advantage as its closing lines price it (it moved in 2020-21's empty stadiums).
    market_home_advantage: dict[str, float] = field(default_factory=dict)
    results_applied_until: datetime | None = None

    def team_for_match(self, team_id: int, league: str, season: str) -> TeamState:
        """The team's state entering a match of `season`, without recording it."""
        state = self.teams.get(team_id)
        if state is None:
            first_season = self.league_first_season.get(league, season)
            return new_team(team_id, league, season, promoted=first_season != season, params=self.params)
        return enter_season(state, season, self.params)

    def match_features(
        self,
        home_team_id: int,
        away_team_id: int,
        league: str,
        season: str,
        kickoff: datetime,
        pre_match_odds: Prices | None,
    ) -> dict[str, float]:
        home = self.team_for_match(home_team_id, league, season)
        away = self.team_for_match(away_team_id, league, season)
        return features_for(home, away, self.home_advantage(league), kickoff, pre_match_odds, self.params)

    def many_match_features(
        self, matches: Iterable[tuple[int, int, str, str, datetime, Prices | None]]
    ) -> list[dict[str, float]]:
        """`match_features` of many (home id, away id, league, season, kickoff, odds) on this state, which
        does not move between them: each team's entry into a season is worked out once, not per match."""
        entering = functools.cache(self.team_for_match)
        advantage = functools.cache(self.home_advantage)
        return [
            features_for(
                entering(home, league, season),
                entering(away, league, season),
                advantage(league),
                kickoff,
                odds,
                self.params,
            )
            for home, away, league, season, kickoff, odds in matches
        ]

    def home_advantage(self, league: str) -> float:
        return self.market_home_advantage.get(league, self.params.market_home_initial)

    def record_result(
        self,
        home_team_id: int,
        away_team_id: int,
        league: str,
        season: str,
        score: tuple[int, int],
        kickoff: datetime,
        available_at: datetime,
        closing: Prices | None = None,
    ) -> None:
        """A finished match: its result and its closing line (the last prices before kick-off) move
        the states that the teams' next matches start from."""
        home = self.team_for_match(home_team_id, league, season)
        away = self.team_for_match(away_team_id, league, season)
        self.league_first_season.setdefault(league, season)
        if valid_prices(closing):
            advantage = self.home_advantage(league)
            error = market_rating_error(home.market, away.market, advantage, closing)  # type: ignore[arg-type]
            home.market += self.params.market_rating_rate * error
            away.market -= self.params.market_rating_rate * error
            self.market_home_advantage[league] = advantage + self.params.market_home_rate * error
        apply_result(home, away, score[0], score[1], kickoff, self.params)
        self.teams[home_team_id] = home
        self.teams[away_team_id] = away
        if self.results_applied_until is None or available_at > self.results_applied_until:
            self.results_applied_until = available_at

    def to_json(self) -> bytes:
        document = {
            "params": self.params.to_dict(),
            "results_applied_until": self.results_applied_until.isoformat() if self.results_applied_until else None,
            "league_first_season": self.league_first_season,
            "market_home_advantage": self.market_home_advantage,
            "teams": [state.to_dict() for state in self.teams.values()],
        }
        return json.dumps(document, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, payload: bytes) -> FeatureState:
        document: dict[str, Any] = json.loads(payload)
        params = FeatureParams.from_mapping(document["params"])
        applied = document["results_applied_until"]
        return cls(
            params=params,
            teams={int(t["team_id"]): TeamState.from_dict(t, params) for t in document["teams"]},
            league_first_season=dict(document["league_first_season"]),
            market_home_advantage=dict(document.get("market_home_advantage", {})),
            results_applied_until=datetime.fromisoformat(applied) if applied else None,
        )


def save_state(store: ObjectStore, state: FeatureState, key: str = TEAM_STATE_KEY) -> str:
    store.put_bytes(key, state.to_json(), content_type="application/json")
    return store.location(key)


def load_state(store: ObjectStore, key: str = TEAM_STATE_KEY) -> FeatureState:
    return FeatureState.from_json(store.get_bytes(key))


def online_features(
    state_store: FeatureState,
    home_team_id: int,
    away_team_id: int,
    kickoff: datetime,
    odds: Prices | None = None,
    league: str | None = None,
    season: str | None = None,
) -> dict[str, float]:
    """Features of one upcoming match from the materialised state (no history scan).

    `league` is only needed when neither team has played yet; `season` defaults to the season the
    kick-off date falls in.
    """
    known = state_store.teams.get(home_team_id) or state_store.teams.get(away_team_id)
    league = league or (known.league if known else None)
    if league is None:
        raise UnknownTeam(f"neither team {home_team_id} nor {away_team_id} has a state; pass the league")
    kickoff = kickoff if kickoff.tzinfo else kickoff.replace(tzinfo=UTC)
    return state_store.match_features(
        home_team_id, away_team_id, league, season or season_of(kickoff.date()), kickoff, odds
    )
