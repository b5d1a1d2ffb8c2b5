"""What the HTTP functions share beyond the app factory: the league and season filters and the documented error body."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Query, status

from shared.competitions import KNOWN_COMPETITIONS, UnknownCompetition
from shared.web.app import ErrorBody


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries so that the docs show the `{"detail": ...}` body the app factory returns."""
    return {code: {"model": ErrorBody} for code in codes}


def league_code(
    league: str | None = Query(
        default=None,
        description="football-data division code, e.g. E0 (Premier League) or SP1 (La Liga)",
        examples=["E0"],
    ),
) -> str | None:
    """The league filter, upper-cased; a code the platform does not know is a 422 naming the known ones."""
    if league is None:
        return None
    code = league.strip().upper()
    if code not in KNOWN_COMPETITIONS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(UnknownCompetition(league)))
    return code


def season_code(
    season: str | None = Query(
        default=None,
        pattern=r"^\d{4}-\d{4}$",
        description="e.g. 2021-2022; default: each league's latest",
        examples=["2021-2022"],
    ),
) -> str | None:
    """The season filter: a football-data season such as 2021-2022, or None for each league's latest."""
    return season
