"""POST /predict's hand-tuned route (shared/web/json_route.py) answers exactly what FastAPI's own handler
answers for the same endpoint: status, headers and body, on good requests and on every kind of bad one.

Both apps serve the real predict endpoint on the main job's data (its champion, team state and store),
each on services of its own so that each process-memory of answers starts empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from functions.predict import main as predict_function
from shared.services import Services
from shared.serving.schemas import PredictRequest
from shared.web.app import create_function_app
from shared.web.json_route import JSONBodyRoute
from tests.prepared import PreparedData

pytestmark = pytest.mark.slow

KICKOFF = "2022-04-19T19:00:00Z"
BY_NAMES = {"home_team": "Man United", "away_team": "Liverpool", "kickoff": KICKOFF}
JSON = {"content-type": "application/json"}

# (body as sent, headers): good requests the fast path answers, and bad ones FastAPI's handler answers
REQUESTS: list[tuple[bytes, dict[str, str]]] = [
    (json.dumps(BY_NAMES).encode(), JSON),
    (json.dumps({**BY_NAMES, "odds": {"home": 2.1, "draw": 3.4, "away": 3.6}}).encode(), JSON),
    (json.dumps(BY_NAMES).encode(), JSON),  # the same again: remembered, cached true
    (json.dumps({**BY_NAMES, "kickoff": "2022-04-19T19:00:00"}).encode(), JSON),  # no offset: UTC
    (json.dumps({**BY_NAMES, "league": "E0", "unknown_field": 1}).encode(), JSON),
    (json.dumps({**BY_NAMES, "odds": {"home": "2.5", "draw": 3, "away": 2.9}}).encode(), JSON),  # lax numbers
    (json.dumps({**BY_NAMES, "home_team": "Manchester Utd"}).encode(), JSON),  # 422 with suggestions
    (json.dumps({**BY_NAMES, "away_team": "Man United"}).encode(), JSON),  # the same team twice
    (json.dumps({"match_id": 10**9}).encode(), JSON),  # 404
    (json.dumps({"match_id": "abc"}).encode(), JSON),
    (json.dumps({"home_team": "Arsenal"}).encode(), JSON),
    (json.dumps({**BY_NAMES, "match_id": 1}).encode(), JSON),
    (json.dumps({**BY_NAMES, "odds": {"home": 0.5, "draw": 3.4, "away": 3.6}}).encode(), JSON),
    (json.dumps({**BY_NAMES, "kickoff": "yesterday"}).encode(), JSON),
    (json.dumps([BY_NAMES]).encode(), JSON),
    (b'{"home_team": "Man United",', JSON),  # not JSON: 400
    (b"", JSON),
    (b"null", JSON),
    (json.dumps(BY_NAMES).encode(), {"content-type": "application/json; charset=utf-8"}),
    (json.dumps(BY_NAMES).encode(), {"content-type": "text/plain"}),
    (json.dumps(BY_NAMES).encode(), {}),
]


def plain_app() -> FastAPI:
    """The same endpoint, declared the same way, on FastAPI's own route class."""
    [route] = [r for r in predict_function.hot_path.routes if getattr(r, "path", None) == "/predict"]
    router = APIRouter()
    router.add_api_route(
        "/predict",
        route.endpoint,
        methods=["POST"],
        response_model=route.response_model,
        responses=route.responses,
    )
    return create_function_app(predict_function.SPEC, [router, predict_function.router])


def answers(app: FastAPI, services: Services) -> list[tuple[int, dict[str, str], Any]]:
    app.dependency_overrides[predict_function.get_services] = lambda: services
    try:
        with TestClient(app) as client:
            replies = [client.post("/predict", content=body, headers=headers) for body, headers in REQUESTS]
    finally:
        app.dependency_overrides.pop(predict_function.get_services)
    return [(r.status_code, dict(r.headers), r.json() if r.content else None) for r in replies]


def validates(body: bytes) -> bool:
    try:
        PredictRequest.model_validate_json(body)
    except ValidationError:
        return False
    return True


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """FastAPI's dependency solving, counted: the fast path must not call it."""
    calls: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return calls


def test_the_fast_route_answers_as_fastapi_does(
    writable_data: PreparedData,
    configure: Callable[..., None],
    make_services: Callable[[], Services],
    solved: list[str],
) -> None:
    configure(T2B_DATA_DIR=str(writable_data.data_dir), T2B_MODEL_NAME=writable_data.model_name)
    plain = answers(plain_app(), make_services())
    solved_by_fastapi = len(solved)  # each request but those refused before (a body that is not JSON)
    solved.clear()
    fast = answers(predict_function.app, make_services())

    for request, plain_answer, fast_answer in zip(REQUESTS, plain, fast, strict=True):
        assert fast_answer == plain_answer, request
    statuses = [status for status, _headers, _body in fast]
    assert statuses[:6] == [200] * 6 and {400, 404, 422} <= set(statuses[6:]), statuses
    assert fast[2][2]["cached"] is True and fast[0][2]["cached"] is False
    # valid JSON bodies skipped FastAPI's solving (the 200s, and the endpoint's own 404/422 on them); the
    # rest (bodies that do not validate, other content types) went to FastAPI's handler
    fast_served = sum(1 for body, headers in REQUESTS if headers == JSON and validates(body))
    assert fast_served == 9 and len(solved) == solved_by_fastapi - fast_served


def test_the_fast_route_refuses_endpoints_it_cannot_serve() -> None:
    router = APIRouter(route_class=JSONBodyRoute)

    async def by_path(match_id: int) -> dict[str, int]:
        return {"match_id": match_id}

    with pytest.raises(TypeError, match="JSON body model and get_services only"):
        router.add_api_route("/predict/{match_id}", by_path, methods=["GET"])
