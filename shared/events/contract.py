"""The CloudEvents 1.0 contract: every event type, its data schema and the broker it is published to.

A bad event is rejected with `InvalidEvent(reason)`; transports treat it as poison (dead-lettered,
never retried), because retrying cannot make bad data good.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from cloudevents.http import CloudEvent
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.clock import utcnow
from shared.competitions import KNOWN_COMPETITIONS
from shared.events.routing import PING_EVENT_TYPE
from shared.serving.schemas import PredictRequest

# PingSource cannot change the event type, only add extensions (ceOverrides); this extension says
# which of our types a ping stands for. CloudEvents extension names are [a-z0-9], at most 20 chars.
INTENDED_TYPE_EXTENSION = "t2beventtype"
JSON = "application/json"

BrokerName = Literal["api", "ml"]


class InvalidEvent(ValueError):
    """The event cannot be processed as it is: unknown type, missing attributes or bad data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _known_league(code: str) -> str:
    if code not in KNOWN_COMPETITIONS:
        raise ValueError(f"unknown league code {code!r}")
    return code


_SEASON = re.compile(r"^(\d{4})-(\d{4})$")


def _season(value: str) -> str:
    match = _SEASON.match(value)
    if not match or int(match[2]) != int(match[1]) + 1:
        raise ValueError(f"season must look like 2019-2020, got {value!r}")
    return value


League = Annotated[str, AfterValidator(_known_league)]
Season = Annotated[str, AfterValidator(_season)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class EventData(BaseModel):
    # A misspelt field must fail loudly rather than be dropped and defaulted.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScrapeRequested(EventData):
    # No league: every configured league (MATCHDAY_LEAGUES, else every league mapped to WhoScored), the
    # daily fixture scrape's request, so the scrape and the match-day tick read the same list.
    league: League | None = None
    season: Season | None = None
    source: Literal["whoscored", "football-data"] = "whoscored"


class MatchesIngested(EventData):
    league: League
    season: Season
    match_ids: list[int] = Field(default_factory=list)
    inserted: int = Field(default=0, ge=0)
    updated: int = Field(default=0, ge=0)
    run_id: int | None = None


class PredictionRequested(EventData):
    job_id: str = Field(min_length=1)
    request: PredictRequest  # the body of POST /predict/async, exactly as POST /predict takes it


class PredictionCompleted(EventData):
    job_id: str = Field(min_length=1)
    model_version: str = Field(min_length=1)
    home_win: Probability
    draw: Probability
    away_win: Probability
    match_id: int | None = None

    @model_validator(mode="after")
    def _probabilities_sum_to_one(self) -> PredictionCompleted:
        total = self.home_win + self.draw + self.away_win
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"home_win + draw + away_win must be 1, got {total:.6f}")
        return self


class FeaturesRequested(EventData):
    leagues: list[League] = Field(min_length=1)
    seasons: list[Season] = Field(min_length=1)
    as_of: datetime | None = None


class ScoringRequested(EventData):
    day: date
    leagues: list[League] = Field(min_length=1)
    model_version: str | None = None


class CacheInvalidate(EventData):
    scope: Literal["team_state", "livescores", "stats", "all"]
    league: League | None = None
    reason: str = ""


class ModelPromoted(EventData):
    model_name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    alias: str = "champion"
    previous_version: str | None = None


class WorkflowFinished(EventData):
    """An Argo workflow (or its local run) ended; published by its exit handler."""

    workflow: str = Field(min_length=1, description="the run's name, e.g. etl-x7k2p")
    pipeline: str = Field(min_length=1, description="the WorkflowTemplate it ran: etl, training, ...")
    status: Literal["Succeeded", "Failed", "Error"]
    failed_step: str | None = None
    message: str | None = None
    duration_s: float = Field(ge=0)


class MatchdayRequested(EventData):
    """One match-day tick (the PingSource's ping stands for it): read what is due in the match windows."""

    leagues: list[League] = Field(default_factory=list, description="empty: the configured leagues")


class MatchUpdated(EventData):
    """A match's status, score or red cards changed on WhoScored's match centre (not a mere minute tick)."""

    match_id: int = Field(ge=1, description="the store's match id")
    league: League
    season: Season
    status: Literal["scheduled", "live", "finished", "postponed", "cancelled"]
    minute: str | None = None
    home_goals: int | None = Field(default=None, ge=0)
    away_goals: int | None = Field(default=None, ge=0)
    home_red_cards: int = Field(default=0, ge=0)
    away_red_cards: int = Field(default=0, ge=0)
    changed: list[Literal["status", "score", "red_cards"]] = Field(min_length=1)
    fetched_at: datetime


class PreviewUpdated(EventData):
    """A new version of a match's preview (predicted line-ups, formations, missing players) was read."""

    match_id: int = Field(ge=1, description="the store's match id")
    league: League
    season: Season
    kickoff_utc: datetime
    changed: list[Literal["formations", "lineups", "missing"]] = Field(min_length=1)
    fetched_at: datetime


@dataclass(frozen=True)
class EventSpec:
    type: str
    data_model: type[EventData]
    broker: BrokerName


def _registry(*specs: EventSpec) -> dict[str, EventSpec]:
    return {spec.type: spec for spec in specs}


# The event type names: written here only, everything else imports them.
TYPE_PREFIX = "io.time2bet."  # every name below starts with it
SCRAPE_REQUESTED = "io.time2bet.scrape.requested"
MATCHES_INGESTED = "io.time2bet.matches.ingested"
CACHE_INVALIDATE = "io.time2bet.cache.invalidate"
WORKFLOW_FINISHED = "io.time2bet.workflow.finished"
PREDICTION_REQUESTED = "io.time2bet.prediction.requested"
PREDICTION_COMPLETED = "io.time2bet.prediction.completed"
FEATURES_REQUESTED = "io.time2bet.features.requested"
SCORING_REQUESTED = "io.time2bet.scoring.requested"
MODEL_PROMOTED = "io.time2bet.model.promoted"
MATCHDAY_REQUESTED = "io.time2bet.matchday.requested"
MATCH_UPDATED = "io.time2bet.match.updated"
PREVIEW_UPDATED = "io.time2bet.preview.updated"

EVENT_TYPES: dict[str, EventSpec] = _registry(
    EventSpec(SCRAPE_REQUESTED, ScrapeRequested, "api"),
    EventSpec(MATCHES_INGESTED, MatchesIngested, "api"),
    EventSpec(CACHE_INVALIDATE, CacheInvalidate, "api"),
    EventSpec(WORKFLOW_FINISHED, WorkflowFinished, "api"),
    EventSpec(MATCHDAY_REQUESTED, MatchdayRequested, "api"),
    EventSpec(MATCH_UPDATED, MatchUpdated, "api"),
    EventSpec(PREVIEW_UPDATED, PreviewUpdated, "api"),
    EventSpec(PREDICTION_REQUESTED, PredictionRequested, "ml"),
    EventSpec(PREDICTION_COMPLETED, PredictionCompleted, "ml"),
    EventSpec(FEATURES_REQUESTED, FeaturesRequested, "ml"),
    EventSpec(SCORING_REQUESTED, ScoringRequested, "ml"),
    EventSpec(MODEL_PROMOTED, ModelPromoted, "ml"),
)

DataT = TypeVar("DataT", bound=EventData)


@dataclass(frozen=True)
class Envelope(Generic[DataT]):
    """A validated event: the contract type (pings resolved to the type they stand for) and typed data."""

    id: str
    type: str
    source: str
    time: str | None
    subject: str | None
    data: DataT
    extensions: Mapping[str, Any]

    @property
    def broker(self) -> BrokerName:
        return EVENT_TYPES[self.type].broker


def spec_for(event_type: str) -> EventSpec:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        known = ", ".join(sorted(EVENT_TYPES))
        raise InvalidEvent(f"unknown event type {event_type!r} (known: {known})") from None


def make_event(
    event_type: str,
    data: EventData | Mapping[str, Any],
    *,
    source: str,
    subject: str | None = None,
    extensions: Mapping[str, str] | None = None,
) -> CloudEvent:
    """Build a CloudEvent of a contract type; the data is validated here so nothing bad is published."""
    spec = spec_for(event_type)
    model = _validated_data(spec, data.model_dump() if isinstance(data, EventData) else data)
    attributes: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": utcnow().isoformat(),
        "datacontenttype": JSON,
        **(extensions or {}),
    }
    if subject is not None:
        attributes["subject"] = subject
    return CloudEvent(attributes, model.model_dump(mode="json"))


def contract_type(event: CloudEvent) -> str:
    """The contract type an event stands for: its own, or for a ping the type named by its extension."""
    event_type = event["type"]
    if event_type != PING_EVENT_TYPE:
        return event_type
    intended = event.get(INTENDED_TYPE_EXTENSION)
    if not intended:
        raise InvalidEvent(
            f"a {PING_EVENT_TYPE} event needs the {INTENDED_TYPE_EXTENSION} extension "
            "(PingSource ceOverrides) naming the event type it stands for"
        )
    return intended


def parse_event(event: CloudEvent) -> Envelope[EventData]:
    """Validate type and data of a received event and return it typed."""
    spec = spec_for(contract_type(event))
    attributes = event.get_attributes()
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not _is_json(content_type):
        raise InvalidEvent(f"{spec.type}: datacontenttype must be JSON, got {content_type!r}")
    standard = {"id", "type", "source", "specversion", "time", "subject", "datacontenttype", "dataschema"}
    return Envelope(
        id=attributes["id"],
        type=spec.type,
        source=attributes["source"],
        time=attributes.get("time"),
        subject=attributes.get("subject"),
        data=_validated_data(spec, event.get_data()),
        extensions={key: value for key, value in attributes.items() if key not in standard},
    )


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON or media_type.endswith("+json")


def _validated_data(spec: EventSpec, data: Any) -> EventData:
    if not isinstance(data, Mapping):
        raise InvalidEvent(f"{spec.type}: data must be a JSON object, got {type(data).__name__}")
    try:
        return spec.data_model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'data'}: {issue['msg']}" for issue in error.errors()
        )
        raise InvalidEvent(f"{spec.type}: invalid data: {problems}") from None
