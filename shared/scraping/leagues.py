"""Which WhoScored tournament is which of the store's competitions, and how seasons are named."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import TYPE_CHECKING

from shared.competitions import CompetitionInfo, competition_info

if TYPE_CHECKING:
    from shared.config import Settings

# (regionId, tournamentId) → football-data division code, the store's competition code.
_COMPETITION_CODES: dict[tuple[int, int], str] = {
    (252, 2): "E0",  # England - Premier League
    (206, 4): "SP1",  # Spain - LaLiga
    (81, 3): "D1",  # Germany - Bundesliga
    (108, 5): "I1",  # Italy - Serie A
    (74, 22): "F1",  # France - Ligue 1
}

_SPLIT_SEASON = re.compile(r"^\s*(\d{4})\s*[/-]\s*(\d{4})\s*$")


class UnmappedCompetition(ValueError):
    pass


def whoscored_ids(code: str) -> tuple[int, int] | None:
    """The store's competition code → WhoScored (region id, tournament id), if mapped."""
    return next((ids for ids, mapped in _COMPETITION_CODES.items() if mapped == code), None)


def mapped_codes() -> list[str]:
    return sorted(_COMPETITION_CODES.values())


def configured_leagues(settings: Settings, requested: Collection[str] = ()) -> list[str]:
    """The leagues of the request, else MATCHDAY_LEAGUES, else every league mapped to WhoScored: what
    the match-day tick reads and the daily fixture scrape (a scrape.requested without a league) covers."""
    if requested:
        return sorted(requested)
    if settings.matchday_leagues:
        return sorted(settings.matchday_leagues.split(","))
    return mapped_codes()


def competition_for(region_id: int, tournament_id: int) -> CompetitionInfo:
    code = _COMPETITION_CODES.get((region_id, tournament_id))
    if code is None:
        known = ", ".join(f"{r}/{t}" for r, t in _COMPETITION_CODES)
        raise UnmappedCompetition(
            f"WhoScored region {region_id} tournament {tournament_id} has no competition "
            f"code in the store (mapped: {known})"
        )
    return competition_info(code)


def store_season(whoscored_season: str) -> tuple[str, int]:
    """`'2020/2021'` → `('2020-2021', 2020)`, the store's season name and start year."""
    match = _SPLIT_SEASON.match(whoscored_season)
    if match is None:
        raise ValueError(f"season {whoscored_season!r} is not of the form YYYY/YYYY")
    start, end = int(match.group(1)), int(match.group(2))
    return f"{start}-{end}", start
