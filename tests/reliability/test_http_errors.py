"""The answers of every HTTP function's app factory to failures, bad bodies and oversized bodies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from shared.errors import InvalidInput, NotFound, Unavailable
from shared.function_spec import FunctionSpec
from shared.web.app import create_function_app

SECRET = "s3cr3t-password"


class Body(BaseModel):
    text: str


def _app() -> FastAPI:
    router = APIRouter()

    @router.get("/fail/{kind}")
    def fail(kind: str) -> dict[str, str]:
        failures: dict[str, Exception] = {
            "invalid": InvalidInput("home_team and away_team name the same team"),
            "missing": NotFound("no match 7"),
            "down": Unavailable("the model is loading", retry_after_seconds=5),
            "bug": ValueError("a stray ValueError is a bug, not bad input"),
            "store": OperationalError("SELECT 1", {}, Exception(f"connection to postgres:{SECRET}@db failed")),
        }
        raise failures[kind]

    @router.post("/echo")
    def echo(body: Body) -> dict[str, int]:
        return {"length": len(body.text)}

    return create_function_app(
        FunctionSpec(
            name="errors-under-test",
            kind="http",
            description="errors under test",
            queue="api",
            routes=["/fail", "/echo"],
        ),
        [router],
    )


@pytest.fixture
def client(configure) -> Iterator[TestClient]:
    configure(MAX_REQUEST_BODY_BYTES="1024")
    with TestClient(_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("kind", "status", "detail"),
    [
        ("invalid", 422, "home_team and away_team name the same team"),
        ("missing", 404, "no match 7"),
        ("down", 503, "the model is loading"),
        ("store", 503, "the store is unavailable; retry later"),
    ],
)
def test_each_error_answers_its_own_status(client: TestClient, kind: str, status: int, detail: str) -> None:
    answer = client.get(f"/fail/{kind}")
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})
    if status == 503:
        assert int(answer.headers["retry-after"]) > 0
    assert SECRET not in answer.text  # a client library's message never reaches the caller


def test_a_stray_value_error_is_a_500_with_an_error_id(client: TestClient) -> None:
    answer = client.get("/fail/bug")
    assert answer.status_code == 500
    assert answer.json()["detail"].startswith("internal error (id ") and "ValueError" not in answer.text


def test_malformed_json_is_a_documented_400(client: TestClient) -> None:
    answer = client.post("/echo", content=b'{"text": "unterminated', headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["detail"]
    assert "400" in client.get("/openapi/errors-under-test.json").json()["paths"]["/echo"]["post"]["responses"]


def test_an_oversized_body_is_refused_with_413_before_it_is_read(client: TestClient) -> None:
    declared = client.post("/echo", json={"text": "x" * 2000})
    assert declared.status_code == 413 and "MAX_REQUEST_BODY_BYTES" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"text": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    streamed = client.post("/echo", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert client.post("/echo", json={"text": "small"}).json() == {"length": 5}


def test_the_openapi_contract_documents_the_error_body(client: TestClient) -> None:
    schema = client.get("/openapi/errors-under-test.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for code in ("413", "422", "503"):
        content = schema["paths"]["/echo"]["post"]["responses"][code]["content"]
        assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    invalid = client.get("/fail/invalid").json()
    assert isinstance(invalid["detail"], str)  # what the schema says
