"""Every HTTP function keeps its OpenAPI contract (Schemathesis, bounded examples): no 5xx but a
documented 503, every status and body as documented, and POST /predict/async's task id leading to a
task-status answer of its documented shape. Run in-process (ASGI) on the main job's data: a real
store with matches, a champion model and a batch."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.prepared import PreparedData
from tests.services import REPO

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
EXAMPLES_PER_OPERATION = 25
KNOWN_MATCH = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": "2022-05-01T15:00:00Z"}


@dataclass(frozen=True)
class HttpFunction:
    name: str
    app: FastAPI


def http_functions() -> list[HttpFunction]:
    found = []
    for folder in sorted((REPO / "functions").iterdir()):
        if (folder / "main.py").is_file():
            module = importlib.import_module(f"functions.{folder.name}.main")
            if module.SPEC.kind == "http":
                found.append(HttpFunction(module.SPEC.name, module.app))
    return found


@pytest.fixture
def on_main_job_data(prepared_data: PreparedData, configure, client_for) -> None:
    """Every function on one Services (the test's, through dependency_overrides), as `t2b serve` hosts them."""
    configure(T2B_DATA_DIR=str(prepared_data.data_dir), T2B_MODEL_NAME=prepared_data.model_name)
    for function in http_functions():
        client_for(function.app)


def test_every_http_function_keeps_its_contract(on_main_job_data) -> None:
    failures: list[str] = []
    for function in http_functions():
        schema = schemathesis.openapi.from_asgi(f"/openapi/{function.name}.json", function.app)
        for result in schema.get_all_operations():
            operation = result.ok()

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def conforms(case) -> None:
                case.call_and_validate(checks=CHECKS)

            try:
                conforms()
            except Exception as error:  # collect every function's failures, then report them all
                failures.append(f"{function.name} {operation.label}: {str(error)[:2000]}")
    assert not failures, "\n\n".join(failures)


def test_an_async_prediction_leads_to_its_task_status(on_main_job_data) -> None:
    apps = {function.name: function.app for function in http_functions()}
    submit = schemathesis.openapi.from_asgi("/openapi/predict-async.json", apps["predict-async"])
    status = schemathesis.openapi.from_asgi("/openapi/task-status.json", apps["task-status"])
    submit_operation = next(r.ok() for r in submit.get_all_operations())
    status_operation = next(r.ok() for r in status.get_all_operations())
    task_client = TestClient(apps["task-status"])
    seen_tasks: list[str] = []

    def follow_the_link(case) -> None:
        accepted = case.call_and_validate(checks=CHECKS)
        if accepted.status_code != 202:
            return
        task_id = accepted.json()["task_id"]
        answer = task_client.get(accepted.json()["status_url"])
        follow_up = status_operation.Case(path_parameters={"task_id": task_id})
        follow_up.validate_response(answer, checks=CHECKS)
        seen_tasks.append(task_id)

    @given(case=submit_operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def generated(case) -> None:
        follow_the_link(case)

    generated()
    # Generated bodies rarely name two real teams (most are refused with a documented 4xx), so the link is
    # also followed from a body the demo data accepts: the test never depends on what Hypothesis drew.
    follow_the_link(submit_operation.Case(body=KNOWN_MATCH, media_type="application/json"))
    assert seen_tasks, "an accepted request's status_url did not lead to its task status"
