"""Competitions the platform knows, keyed by football-data.co.uk's division code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CompetitionInfo:
    code: str
    name: str
    country: str


KNOWN_COMPETITIONS: dict[str, CompetitionInfo] = {
    info.code: info
    for info in (
        CompetitionInfo("E0", "Premier League", "England"),
        CompetitionInfo("E1", "Championship", "England"),
        CompetitionInfo("E2", "League One", "England"),
        CompetitionInfo("E3", "League Two", "England"),
        CompetitionInfo("EC", "National League", "England"),
        CompetitionInfo("SC0", "Premiership", "Scotland"),
        CompetitionInfo("SC1", "Championship", "Scotland"),
        CompetitionInfo("D1", "Bundesliga", "Germany"),
        CompetitionInfo("D2", "2. Bundesliga", "Germany"),
        CompetitionInfo("SP1", "La Liga", "Spain"),
        CompetitionInfo("SP2", "Segunda Division", "Spain"),
        CompetitionInfo("I1", "Serie A", "Italy"),
        CompetitionInfo("I2", "Serie B", "Italy"),
        CompetitionInfo("F1", "Ligue 1", "France"),
        CompetitionInfo("F2", "Ligue 2", "France"),
        CompetitionInfo("N1", "Eredivisie", "Netherlands"),
        CompetitionInfo("B1", "Jupiler Pro League", "Belgium"),
        CompetitionInfo("P1", "Primeira Liga", "Portugal"),
        CompetitionInfo("T1", "Super Lig", "Turkey"),
        CompetitionInfo("G1", "Super League", "Greece"),
    )
}


class UnknownCompetition(ValueError):
    def __init__(self, code: str) -> None:
        known = ", ".join(sorted(KNOWN_COMPETITIONS))
        super().__init__(f"unknown league code {code!r} (known: {known})")
        self.code = code


def competition_info(code: str) -> CompetitionInfo:
    try:
        return KNOWN_COMPETITIONS[code]
    except KeyError:
        raise UnknownCompetition(code) from None


# European seasons run from July; a season can spill into August (2019-20 did, after the COVID-19 break).
SEASON_START_MONTH = 7


def season_name(start_year: int) -> str:
    return f"{start_year}-{start_year + 1}"


def season_start_year(day: date) -> int:
    return day.year if day.month >= SEASON_START_MONTH else day.year - 1


def season_of(day: date) -> str:
    """The season a date falls in: 2021-03-01 → '2020-2021'."""
    return season_name(season_start_year(day))
