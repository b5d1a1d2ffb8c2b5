"""Tunable constants of the feature state machine (the `features` section of params.yaml)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from shared.param_sections import from_section


@dataclass(frozen=True)
class FeatureParams:
    elo_initial: float = 1500.0
    elo_k: float = 20.0
    elo_home_advantage: float = 60.0
    # Share of the distance to the mean a rating loses over the summer (squads change).
    season_regression: float = 0.2
    # Promoted clubs are, on average, the weakest of the new season.
    promoted_elo_gap: float = 90.0
    promoted_pi: float = -0.35
    pi_learning_rate: float = 0.035  # lambda in Constantinou & Fenton (2013)
    pi_cross_rate: float = 0.7  # gamma: how much a home result moves the away rating and vice versa
    pi_goal_scale: float = 3.0  # c: rating -> expected goal difference
    form_window: int = 6
    rest_days_cap: float = 30.0
    # football-data kick-off times are unknown before 2019-20; a result is public this long after kick-off.
    result_delay_minutes: int = 115
    # Market ratings (Wunderlich & Memmert 2018, odds-based Elo): each team's strength in units of
    # log(p_home / p_away) as past closing lines priced it. A closing line is public at kick-off, so
    # it moves the ratings of the next matches, never its own match's features.
    market_rating_rate: float = 0.25  # share of the error between the close and the ratings' prediction
    market_home_rate: float = 0.02  # the league's home advantage learns slower: it is shared by all teams
    market_home_initial: float = 0.45
    market_season_regression: float = 0.1
    market_promoted: float = -0.45  # a promoted club's rating before its first close

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> FeatureParams:
        return from_section(cls, values, "feature")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
