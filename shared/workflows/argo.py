"""`t2b workflows lint|submit`: the rendered YAML sent to an Argo Server through Hera's WorkflowsService.

Settings: ARGO_SERVER (https://host:port), ARGO_TOKEN (Hera adds `Bearer `), ARGO_NAMESPACE. A name is a
WorkflowTemplate (etl, training, batch-scoring) or a CronWorkflow (etl-nightly, ...). Submitting a
template first creates or updates it on the server, then submits a Workflow from it; submitting a
CronWorkflow creates or updates its template and the CronWorkflow itself (which then schedules runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from hera.exceptions import BadRequest, Forbidden, HeraException, InternalServerError, NotFound, Unauthorized
from hera.workflows import WorkflowsService
from hera.workflows import models as m

from shared.cli.errors import CommandError, ExitCode
from shared.config import Settings, get_settings
from shared.workflows.render import load_document
from shared.workflows.runner import parameters_for


@dataclass(frozen=True)
class Submitted:
    kind: str
    name: str
    namespace: str


def service(settings: Settings | None = None) -> WorkflowsService:
    settings = settings or get_settings()
    if not settings.argo_server:
        raise CommandError("ARGO_SERVER is not set (https://host:port of the Argo Server)", ExitCode.BAD_INPUT)
    token = settings.argo_token.get_secret_value() if settings.argo_token else None
    return WorkflowsService(
        host=settings.argo_server,
        token=token,
        namespace=settings.argo_namespace,
        verify_ssl=not settings.argo_insecure_skip_verify,
    )


@contextmanager
def server_errors() -> Iterator[None]:
    """The Argo Server's refusals as exit codes: a rejected document or token is bad input, a 5xx temporary."""
    try:
        yield
    except (BadRequest, Unauthorized, Forbidden, NotFound) as error:
        raise CommandError(f"Argo Server refused: {error}", ExitCode.BAD_INPUT) from None
    except InternalServerError as error:
        raise CommandError(f"Argo Server failed: {error}", ExitCode.TEMPORARY) from None
    except HeraException as error:
        raise CommandError(f"Argo Server: {error}", ExitCode.FAILED) from None


def lint(name: str, client: WorkflowsService) -> str:
    """The server's verdict on the rendered document; a rejection exits 2 with the server's reason."""
    document = load_document(name)
    with server_errors():
        if document["kind"] == "CronWorkflow":
            client.lint_cron_workflow(m.LintCronWorkflowRequest(cron_workflow=m.CronWorkflow(**document)))
        else:
            client.lint_workflow_template(m.WorkflowTemplateLintRequest(template=m.WorkflowTemplate(**document)))
    return f"{document['kind']} {name}: valid"


def submit(name: str, parameters: Mapping[str, str], client: WorkflowsService) -> Submitted:
    with server_errors():
        return _submit(name, parameters, client)


def _submit(name: str, parameters: Mapping[str, str], client: WorkflowsService) -> Submitted:
    document = load_document(name)
    if document["kind"] == "CronWorkflow":
        if parameters:
            raise CommandError("a CronWorkflow takes its parameters from its own spec, not -p", ExitCode.BAD_INPUT)
        apply_template(load_document(document["spec"]["workflowSpec"]["workflowTemplateRef"]["name"]), client)
        apply_cron(document, client)
        return Submitted("CronWorkflow", name, client.namespace)
    parameters_for(document, parameters)  # unknown names and enum misses fail here, not on the server
    apply_template(document, client)
    request = m.WorkflowSubmitRequest(
        namespace=client.namespace,
        resource_kind="WorkflowTemplate",
        resource_name=name,
        submit_options=m.SubmitOpts(parameters=[f"{key}={value}" for key, value in parameters.items()] or None),
    )
    workflow = client.submit_workflow(request)
    return Submitted("Workflow", workflow.metadata.name or "?", client.namespace)


def apply_template(document: dict[str, Any], client: WorkflowsService) -> None:
    name = document["metadata"]["name"]
    try:
        current = client.get_workflow_template(name)
    except NotFound:
        client.create_workflow_template(m.WorkflowTemplateCreateRequest(template=m.WorkflowTemplate(**document)))
        return
    updated = m.WorkflowTemplate(**_with_version(document, current.metadata.resource_version))
    client.update_workflow_template(name, m.WorkflowTemplateUpdateRequest(name=name, template=updated))


def apply_cron(document: dict[str, Any], client: WorkflowsService) -> None:
    name = document["metadata"]["name"]
    try:
        current = client.get_cron_workflow(name)
    except NotFound:
        client.create_cron_workflow(m.CreateCronWorkflowRequest(cron_workflow=m.CronWorkflow(**document)))
        return
    updated = m.CronWorkflow(**_with_version(document, current.metadata.resource_version))
    client.update_cron_workflow(name, m.UpdateCronWorkflowRequest(name=name, cron_workflow=updated))


def _with_version(document: dict[str, Any], resource_version: str | None) -> dict[str, Any]:
    """An update must carry the stored resourceVersion (optimistic concurrency on the server)."""
    return {**document, "metadata": {**document["metadata"], "resourceVersion": resource_version}}
