"""Typed records of what each WhoScored page type carries (NOTES §3), independent of how it was read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.db.models import MatchStatus


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class FeedRecord(Record):
    """Records read straight from WhoScored's camelCase JSON."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, alias_generator=to_camel)


# --- §3.1 regions -------------------------------------------------------------------------------


class TournamentLink(FeedRecord):
    id: int
    name: str
    url: str
    sort_order: int | None = None


class Region(FeedRecord):
    id: int
    name: str
    type: int | None = None  # 0 country, 1 international/continental
    flg: str | None = None
    tournaments: list[TournamentLink] = Field(default_factory=list)


# --- §3.2 tournament / season page --------------------------------------------------------------


class SeasonOption(Record):
    season_id: int
    name: str  # "2020/2021"
    url: str
    selected: bool = False


class StageOption(Record):
    stage_id: int
    name: str
    url: str


class StandingRecord(Record):
    stage_id: int
    team_id: int
    team_name: str
    rank: int
    played: int
    won: int
    drawn: int
    lost: int
    goals_for: int
    goals_against: int
    goal_difference: int
    points: int


class StandingsTable(Record):
    stage_id: int | None
    group_index: int | None = None
    rows: list[StandingRecord]


class StageCalendar(Record):
    stage_id: int | None = None
    first_day: date | None = None
    last_day: date | None = None
    months: list[tuple[int, int]]  # (year, 1-based month) with at least one match, in order


class TournamentPage(Record):
    region_id: int | None
    tournament_id: int | None
    seasons: list[SeasonOption]
    fixtures_stage_id: int | None  # the `Fixtures` link: the default stage
    stages: list[StageOption]  # multi-stage competitions only
    args_stage_id: int | None
    standings: list[StandingsTable]
    calendar: StageCalendar | None

    @property
    def selected_season(self) -> SeasonOption | None:
        return next((s for s in self.seasons if s.selected), None)

    @property
    def stage_ids(self) -> list[int]:
        """Every stage of the season; a single-stage league has just its default one."""
        if self.stages:
            return [s.stage_id for s in self.stages]
        default = self.fixtures_stage_id or self.args_stage_id
        return [default] if default is not None else []


# --- §3.3 fixture feed --------------------------------------------------------------------------

# WhoScored status codes. Only 6 (FT) is confirmed by the samples; the others are our reading of the
# site, so a finished `elapsed` wins and an unknown code counts as not started.
_STATUS_BY_CODE: dict[int, MatchStatus] = {
    0: MatchStatus.scheduled,
    1: MatchStatus.scheduled,
    2: MatchStatus.live,
    3: MatchStatus.live,
    4: MatchStatus.live,
    5: MatchStatus.postponed,
    6: MatchStatus.finished,
    7: MatchStatus.cancelled,
    8: MatchStatus.cancelled,
}


def match_status(code: int | None, elapsed: str | None) -> MatchStatus:
    if elapsed in {"FT", "AET", "PEN"}:
        return MatchStatus.finished
    return _STATUS_BY_CODE.get(code if code is not None else 1, MatchStatus.scheduled)


class Incident(FeedRecord):
    minute: str | None = None
    type: int
    sub_type: int | None = None
    player_name: str | None = None
    player_id: int | None = None
    participating_player_name: str | None = None
    participating_player_id: int | None = None
    field: int | None = None  # 0 home, 1 away: the side credited (own goals: the side that benefits)
    period: int | None = None


class FixtureMatch(FeedRecord):
    id: int
    stage_id: int
    status: int | None = None
    elapsed: str | None = None
    start_time_utc: datetime
    home_team_id: int
    home_team_name: str
    home_team_country_name: str | None = None
    away_team_id: int
    away_team_name: str
    away_team_country_name: str | None = None
    home_score: int | None = None
    away_score: int | None = None
    home_yellow_cards: int | None = None
    home_red_cards: int | None = None
    away_yellow_cards: int | None = None
    away_red_cards: int | None = None
    winner_field: int | None = None
    has_preview: bool = False
    incidents: list[Incident] = Field(default_factory=list)

    @property
    def state(self) -> MatchStatus:
        return match_status(self.status, self.elapsed)


class FeedTournament(FeedRecord):
    tournament_id: int
    stage_id: int
    region_id: int | None = None
    tournament_name: str | None = None
    season_id: int | None = None
    season_name: str | None = None
    matches: list[FixtureMatch] = Field(default_factory=list)


class FixtureFeed(FeedRecord):
    tournaments: list[FeedTournament]

    @property
    def matches(self) -> list[FixtureMatch]:
        return [m for t in self.tournaments for m in t.matches]


# --- §3.4 match centre --------------------------------------------------------------------------


class Score(Record):
    home: int
    away: int


class MatchHeader(Record):
    match_id: int | None
    home_team_id: int
    away_team_id: int
    home_team_name: str
    away_team_name: str
    kickoff_local: datetime | None  # venue-local, no time zone
    status_code: int | None
    elapsed: str | None
    half_time: Score | None
    full_time: Score | None
    score: Score | None
    home_country: str | None = None
    away_country: str | None = None


class TeamMatchStats(Record):
    team_id: int
    name: str
    side: str  # "home" | "away"
    manager: str | None = None
    formation: str | None = None  # the starting formation
    goals: int | None = None
    half_time_goals: int | None = None
    possession: float | None = None  # % of the match's possession
    shots: int | None = None
    shots_on_target: int | None = None
    passes: int | None = None
    pass_accuracy: float | None = None  # % of passes that were accurate
    corners: int | None = None
    fouls: int | None = None
    yellow_cards: int | None = None  # second yellows count as red, not yellow
    red_cards: int | None = None
    rating: float | None = None  # WhoScored team rating at the final minute


class MatchCentre(Record):
    match_id: int
    header: MatchHeader | None
    status_code: int | None
    elapsed: str | None
    kickoff_local: datetime | None
    score: Score | None
    half_time: Score | None
    full_time: Score | None
    referee: str | None
    venue: str | None
    attendance: int | None
    home: TeamMatchStats
    away: TeamMatchStats
    events: list[dict[str, Any]]

    @property
    def state(self) -> MatchStatus:
        return match_status(self.status_code, self.elapsed)


# --- §3.5 preview -------------------------------------------------------------------------------


class PredictedPlayer(Record):
    player_id: int = Field(alias="PlayerId")
    name: str = Field(alias="Name")
    field: str | int | None = Field(default=None, alias="Field")
    rating: float | None = Field(default=None, alias="Rating")


class LineupPlayer(Record):
    """A player of the predicted starting XI drawn on the preview's pitch."""

    player_id: int
    name: str
    position: str | None = None  # WhoScored's slot code: GK, DL, DC, DMC, MR, AMC, FW, ...


class MissingPlayer(Record):
    player_id: int | None
    name: str
    reason: str | None  # e.g. "injured doubtful"
    status: str | None  # "Doubtful" / "Out"
    rating: float | None


class MatchPreview(Record):
    match_id: int | None
    header: MatchHeader
    venue: str | None = None
    home_formation: str | None = None  # e.g. "4-2-3-1", from the predicted line-up block
    away_formation: str | None = None
    home_lineup: list[LineupPlayer]  # the predicted XI (empty until WhoScored draws one)
    away_lineup: list[LineupPlayer]
    home_squad: list[PredictedPlayer]  # `matchprediction`'s squad list, sorted by rating: not the XI
    away_squad: list[PredictedPlayer]
    home_missing: list[MissingPlayer]
    away_missing: list[MissingPlayer]
