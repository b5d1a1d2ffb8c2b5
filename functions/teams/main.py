"""The teams of each league's season, for pickers: the names POST /predict resolves."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from shared.function_spec import FunctionSpec
from shared.queries.api import error_responses, league_code, season_code
from shared.queries.teams import TeamsResponse, league_teams
from shared.web.app import create_function_app
from shared.web.deps import db_session

SPEC = FunctionSpec(
    name="teams",
    kind="http",
    description="Teams playing a league's season (default: its latest), searchable by name, for the web app's pickers.",
    queue="api",
    requirements="serve",
    routes=["/teams"],
)

router = APIRouter(tags=["teams"])


@router.get(
    "/teams",
    summary="Teams of a league's season (default: every league's latest), optionally those whose name contains q",
    responses=error_responses(404, 422),
)
def get_teams(
    league: str | None = Depends(league_code),
    season: str | None = Depends(season_code),
    q: str | None = Query(default=None, max_length=64, description="case-insensitive part of the name"),
    session: Session = Depends(db_session),
) -> TeamsResponse:
    return league_teams(session, league, season, q)


app = create_function_app(SPEC, [router])
