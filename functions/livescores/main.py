"""Scores of live and recently finished matches."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.queries.api import error_responses, league_code
from shared.queries.livescores import MAX_HOURS, LivescoresResponse, livescores
from shared.web.app import create_function_app
from shared.web.deps import db_session
from shared.web.spec import FunctionSpec

SPEC = FunctionSpec(
    name="livescores",
    kind="http",
    description="Matches live now and matches finished within the last hours, with scores.",
    queue="api",
    requirements="serve",
    routes=["/livescores"],
)

router = APIRouter(tags=["livescores"])


@router.get(
    "/livescores",
    summary="Live matches, and finished ones whose kick-off lies within the last `hours`",
    responses=error_responses(422),
)
def get_livescores(
    hours: int = Query(default=3, ge=1, le=MAX_HOURS, description="how far back finished matches reach"),
    league: str | None = Depends(league_code),
    session: Session = Depends(db_session),
) -> LivescoresResponse:
    return livescores(session, utcnow(), hours, league)


app = create_function_app(SPEC, [router])
