"""League tables with each team's recent form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from shared.function_spec import FunctionSpec
from shared.queries.api import error_responses, league_code, season_code
from shared.queries.standings import StandingsResponse, league_tables
from shared.web.app import create_function_app
from shared.web.deps import db_session

SPEC = FunctionSpec(
    name="stats",
    kind="http",
    description="League tables computed from finished matches, with each team's last-N form.",
    queue="api",
    requirements="serve",
    routes=["/stats"],
)

router = APIRouter(tags=["stats"])


@router.get(
    "/stats",
    summary="League tables of a season (default: each league's latest)",
    responses=error_responses(404, 422),
)
def get_stats(
    league: str | None = Depends(league_code),
    season: str | None = Depends(season_code),
    form: int = Query(default=5, ge=1, le=38, description="how many recent results the form string shows"),
    session: Session = Depends(db_session),
) -> StandingsResponse:
    return league_tables(session, league, season, form)


app = create_function_app(SPEC, [router])
