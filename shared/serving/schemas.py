"""Request and response models of the prediction functions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator


class OddsInput(BaseModel):
    """Pre-kickoff decimal 1X2 prices (closing prices are not features)."""

    home: float = Field(gt=1.0)
    draw: float = Field(gt=1.0)
    away: float = Field(gt=1.0)


class PredictRequest(BaseModel):
    """Either a stored match (`match_id`) or two teams and a kick-off."""

    match_id: int | None = Field(default=None, ge=1)
    home_team: str | None = Field(default=None, min_length=1, max_length=128)
    away_team: str | None = Field(default=None, min_length=1, max_length=128)
    kickoff: datetime | None = Field(default=None, description="ISO 8601; without an offset it is read as UTC")
    league: str | None = Field(default=None, description="only needed when neither team has played yet")
    odds: OddsInput | None = None

    @field_validator("kickoff")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="after")
    def one_way_to_name_the_match(self) -> PredictRequest:
        by_teams = (self.home_team, self.away_team, self.kickoff)
        if self.match_id is not None and any(v is not None for v in by_teams):
            raise ValueError("give either match_id or home_team + away_team + kickoff, not both")
        if self.match_id is None and not all(v is not None for v in by_teams):
            raise ValueError("give match_id, or all of home_team, away_team and kickoff")
        return self


class Probabilities(BaseModel):
    home: float
    draw: float
    away: float


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    match_id: int | None
    home_team: str
    away_team: str
    kickoff: datetime
    probabilities: Probabilities
    model: ModelRef
    features_as_of: datetime | None = Field(description="latest result the team ratings and form include")
    cached: bool
    market: Literal["pre-kickoff", "none"] = Field(
        description="the path that served it: pre-kickoff prices given (or stored), or none (odds-free model)"
    )
