"""The rendered Argo YAML: up to date, valid against the vendored Argo v4.1.2 CRDs, and shaped for the Argo UI."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from shared.events.contract import INTENDED_TYPE_EXTENSION
from shared.events.routing import load_routing
from shared.workflows import render
from shared.workflows.runner import WorkflowError, _retryable, _when, substitute, unsupported
from tests.platform.crd_validation import errors
from workflows import PIPELINES, SCHEDULES
from workflows.common import T2B_BASELINE_MEMORY_MI

RENDERED = render.documents()
TEMPLATES = {name: doc for name, doc in RENDERED.items() if doc["kind"] == "WorkflowTemplate"}
CRONS = {name: doc for name, doc in RENDERED.items() if doc["kind"] == "CronWorkflow"}


def mebibytes(quantity: str) -> int:
    return int(quantity.removesuffix("Gi")) * 1024 if quantity.endswith("Gi") else int(quantity.removesuffix("Mi"))


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [template for template in document["spec"]["templates"] if "container" in template]


def test_committed_yaml_is_what_the_hera_code_renders() -> None:
    committed = {path.name: path.read_text() for path in render.RENDERED.glob("*.yaml")}
    expected = {name: render.text(name, document) for name, document in RENDERED.items()}
    assert committed.keys() == expected.keys(), "run `t2b workflows render`"
    for name, text in expected.items():
        assert committed[name] == text, f"workflows/rendered/{name} is stale: run `t2b workflows render`"


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_rendered_document_validates_against_the_argo_crd(name: str) -> None:
    assert errors(RENDERED[name]) == []


def test_every_pipeline_and_schedule_is_rendered() -> None:
    assert set(TEMPLATES) == {f"{name}.yaml" for name in PIPELINES}
    assert set(PIPELINES) == {"etl", "training", "batch-scoring", "drift-report", "prediction-log", "live-quality"}
    assert {doc["spec"]["workflowSpec"]["workflowTemplateRef"]["name"] for doc in CRONS.values()} == set(PIPELINES)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_steps_are_t2b_containers_with_resources_and_retries_on_temporary_exits_only(name: str) -> None:
    document = TEMPLATES[name]
    kinds = {
        template["name"]: set(template) & {"container", "dag", "script"} for template in document["spec"]["templates"]
    }
    assert all(len(kind) == 1 and "script" not in kind for kind in kinds.values()), kinds
    for template in containers(document):
        container = template["container"]
        assert container["command"] == ["t2b"] and container["image"].startswith("ghcr.io/time2bet/")
        assert {"requests", "limits"} <= set(container["resources"])
        assert mebibytes(container["resources"]["limits"]["memory"]) > T2B_BASELINE_MEMORY_MI, template["name"]
        if any("/t2b" in word for word in container["args"]):  # the non-root image writes to an emptyDir only
            assert container["volumeMounts"] == [{"name": "scratch", "mountPath": "/t2b"}]
            assert {"name": "scratch", "emptyDir": {}} in document["spec"]["volumes"]
        assert template["activeDeadlineSeconds"] > 0
        retry = template["retryStrategy"]
        assert retry["expression"] == "asInt(lastRetry.exitCode) == 75" and retry["limit"] >= 1
        assert {"duration", "factor", "maxDuration"} <= set(retry["backoff"])
        assert _retryable(retry, 75) and not any(_retryable(retry, code) for code in (1, 2, 3))


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_argo_ui_metadata_and_housekeeping(name: str) -> None:
    document = TEMPLATES[name]
    annotations = document["metadata"]["annotations"]
    assert annotations["workflows.argoproj.io/title"] and annotations["workflows.argoproj.io/description"]
    assert document["metadata"]["labels"]["time2bet.io/pipeline"] == document["metadata"]["name"]
    spec = document["spec"]
    assert all(parameter.get("description") for parameter in spec.get("arguments", {}).get("parameters", []))
    assert spec["serviceAccountName"] and spec["activeDeadlineSeconds"] > 0
    assert spec["podGC"]["strategy"] and spec["ttlStrategy"]["secondsAfterSuccess"] > 0
    assert spec["artifactRepositoryRef"] == {"configMap": "artifact-repositories", "key": "minio"}
    assert spec["onExit"] == "exit-handler"
    for template in containers(document):
        assert template["metadata"]["annotations"]["workflows.argoproj.io/description"]


def test_training_outputs_model_version_rps_gap_and_evaluation_artifacts() -> None:
    templates = {t["name"]: t for t in TEMPLATES["training.yaml"]["spec"]["templates"]}
    outputs = {p["name"] for name in ("evaluate", "register") for p in templates[name]["outputs"]["parameters"]}
    assert {"model-version", "rps", "gap-to-market"} <= outputs
    assert {a["name"] for a in templates["evaluate"]["outputs"]["artifacts"]} == {"evaluation", "plots"}


def test_etl_parameters_have_enums_where_the_choice_is_closed() -> None:
    parameters = {p["name"]: p for p in TEMPLATES["etl.yaml"]["spec"]["arguments"]["parameters"]}
    assert parameters["scrape"]["enum"] == ["false", "true"]
    assert "Premier League" in parameters["tournament"]["enum"] and "England" in parameters["region"]["enum"]


@pytest.mark.parametrize("name", sorted(CRONS))
def test_cron_workflows_forbid_overlap_and_keep_bounded_history(name: str) -> None:
    spec = CRONS[name]["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] > 0
    assert spec["successfulJobsHistoryLimit"] > 0 and spec["failedJobsHistoryLimit"] > 0
    assert spec["timezone"] == "Europe/London" and len(spec["schedules"]) == 1
    assert "schedule" not in spec  # removed in Argo v4


# The workflow step doing the job each PingSource's event type asks for; a PingSource of a type not listed
# here fails the test below until someone says which step (if any) it overlaps.
STEP_OF_EVENT = {
    "io.time2bet.scrape.requested": "scrape",
    "io.time2bet.features.requested": "batch-features",
    "io.time2bet.scoring.requested": "batch-score",
    "io.time2bet.matchday.requested": "matchday",  # the match-day tick: no CronWorkflow runs it
}


def test_one_scheduler_per_job() -> None:
    """No job is scheduled both by a PingSource and by a CronWorkflow (the daily scrape is the PingSource's)."""
    pinged = {source.extensions.get(INTENDED_TYPE_EXTENSION) for source in load_routing().pingsources}
    assert pinged and pinged <= set(STEP_OF_EVENT), f"classify {pinged - set(STEP_OF_EVENT)} in STEP_OF_EVENT"
    ping_jobs = {STEP_OF_EVENT[event_type] for event_type in pinged}
    cron_jobs: set[str] = set()
    for schedule in SCHEDULES:
        document = render.load(schedule.name)
        values = {p["name"]: p["value"] for p in document["spec"].get("arguments", {}).get("parameters", [])}
        main = next(t for t in document["spec"]["templates"] if t["name"] == document["spec"]["entrypoint"])
        for task in main["dag"]["tasks"]:
            if not task.get("when") or _when(substitute(task["when"], _scope(values))):
                cron_jobs.add(task["template"])
    assert {"import", "export", "train", "batch-score"} <= cron_jobs
    assert not cron_jobs & ping_jobs, f"scheduled twice: {cron_jobs & ping_jobs}"


def _scope(values: dict[str, str]) -> dict[str, str]:
    return {f"workflow.parameters.{key}": value for key, value in values.items()}


def test_features_the_local_runner_lacks_are_refused_at_render_time(monkeypatch: pytest.MonkeyPatch) -> None:
    document = copy.deepcopy(TEMPLATES["etl.yaml"])
    document["spec"]["synchronization"] = {"mutexes": [{"name": "etl"}]}
    document["spec"]["templates"][1]["container"]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    document["spec"]["templates"][0]["dag"]["tasks"][0]["withItems"] = ["E0", "SP1"]
    problems = unsupported(document)
    assert "spec.synchronization" in problems
    assert any("container.volumeMounts (only an emptyDir at /t2b)" in problem for problem in problems)
    assert any(problem.endswith("].withItems") for problem in problems)

    class Unrunnable:
        def template(self) -> Any:
            return type("Rendered", (), {"to_dict": lambda _self: document})()

    monkeypatch.setitem(PIPELINES, "etl", Unrunnable())
    with pytest.raises(WorkflowError, match=r"does not implement spec\.synchronization"):
        render.documents()


def test_rendered_yaml_loads_back_to_the_same_documents() -> None:
    for name, document in RENDERED.items():
        assert yaml.safe_load(render.text(name, document)) == document


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_steps_run_a_versioned_image(name: str) -> None:
    images = {
        template["container"]["image"] for template in TEMPLATES[name]["spec"]["templates"] if "container" in template
    }
    assert images and all(not image.endswith(":latest") and ":" in image for image in images), images
