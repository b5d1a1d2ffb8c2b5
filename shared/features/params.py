"""Tunable constants of the feature state machine (the `features` section of params.yaml)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


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

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> FeatureParams:
        known = {f.name for f in fields(cls)}
        unknown = set(values or {}) - known
        if unknown:
            raise ValueError(f"unknown feature parameter(s): {', '.join(sorted(unknown))}")
        return cls(**(values or {}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
