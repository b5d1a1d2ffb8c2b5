"""Scores of live and recently finished matches."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Response
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.function_spec import FunctionSpec
from shared.queries.api import error_responses, league_code
from shared.queries.livescores import MAX_HOURS, LivescoresResponse, livescores
from shared.web.app import create_function_app
from shared.web.deps import db_session

SPEC = FunctionSpec(
    name="livescores",
    kind="http",
    description="Matches live now and matches finished within the last hours, with scores.",
    queue="api",
    requirements="serve",
    routes=["/livescores"],
)

router = APIRouter(tags=["livescores"])

# The match-day tick reads live matches about once a minute: a poller asking more often than this
# revalidates (If-None-Match) and mostly gets a body-less 304.
MAX_AGE_SECONDS = 15


@router.get(
    "/livescores",
    summary="Live matches, and finished ones whose kick-off lies within the last `hours`",
    response_model=LivescoresResponse,
    responses={
        **error_responses(422),
        304: {"description": "If-None-Match names the current ETag: the matches are as the client has them"},
    },
)
def get_livescores(
    response: Response,
    hours: int = Query(default=3, ge=1, le=MAX_HOURS, description="how far back finished matches reach"),
    league: str | None = Depends(league_code),
    if_none_match: str | None = Header(default=None, description="the ETag of the copy the client holds"),
    session: Session = Depends(db_session),
) -> LivescoresResponse | Response:
    scores = livescores(session, utcnow(), hours, league)
    etag = f'"{scores.version}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}"}
    if if_none_match is not None and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return scores


def _matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): W/ prefixes ignored; * matches any."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


app = create_function_app(SPEC, [router])
