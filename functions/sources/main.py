"""The state of each data source: last successful and failed ingest runs."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from shared.function_spec import FunctionSpec
from shared.queries.sources import SourcesResponse, data_sources
from shared.web.app import create_function_app
from shared.web.deps import db_session

SPEC = FunctionSpec(
    name="sources",
    kind="http",
    description="Each data source seen in the ingest runs, with its last successful and last failed run.",
    queue="api",
    requirements="serve",
    routes=["/sources"],
)

router = APIRouter(tags=["sources"])


@router.get("/sources", summary="Every data source with its run counts and latest outcomes")
def get_sources(session: Session = Depends(db_session)) -> SourcesResponse:
    return data_sources(session)


app = create_function_app(SPEC, [router])
