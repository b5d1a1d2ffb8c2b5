"""`t2b workflows lint|submit` against a FAKE Argo Server: a small HTTP server of this test that records each
request (method, path, bearer token, JSON payload) and answers like Argo's REST API for the few calls used.

No Argo Server can run here (no Kubernetes); what is checked is what Hera's WorkflowsService sends it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shared.cli.errors import CommandError, ExitCode
from shared.config import Settings
from shared.workflows import argo
from shared.workflows.render import load_document
from tests.fake_http import QuietHandler
from tests.services import free_port

TOKEN = "s3cr3t-token"
NAMESPACE = "argo-test"


@dataclass
class FakeArgo:
    """Stored templates/crons by name; every request kept as (method, path, authorization, body)."""

    port: int
    requests: list[tuple[str, str, str | None, Any]] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    refuse_lint: str | None = None

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _, _ in self.requests]


def _handler(fake: FakeArgo) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def _record(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            fake.requests.append((self.command, self.path, self.headers.get("Authorization"), body))
            return body

        def do_GET(self) -> None:
            self._record()
            kind, name = self.path.split("/")[3], self.path.rsplit("/", 1)[-1]
            stored = fake.stored.get(f"{kind}/{name}")
            if stored is None:
                self._answer(404, {"code": 5, "message": f"{kind} {name} not found"})
            else:
                self._answer(200, stored)

        def do_POST(self) -> None:
            body = self._record()
            parts = self.path.split("/")  # /api/v1/<kind>/<namespace>[/lint|/submit]
            kind, action = parts[3], parts[5] if len(parts) > 5 else "create"
            if action == "lint":
                if fake.refuse_lint:
                    self._answer(400, {"code": 3, "message": fake.refuse_lint})
                    return
                self._answer(200, body.get("template") or body.get("cronWorkflow"))
            elif action == "submit":
                metadata = {"name": f"{body['resourceName']}-x7k2p", "namespace": parts[4]}
                spec = {"workflowTemplateRef": {"name": body["resourceName"]}}
                self._answer(200, {"metadata": metadata, "spec": spec})
            else:
                document = body.get("template") or body.get("cronWorkflow")
                document["metadata"]["resourceVersion"] = "1"
                fake.stored[f"{kind}/{document['metadata']['name']}"] = document
                self._answer(200, document)

        def do_PUT(self) -> None:
            body = self._record()
            document = body.get("template") or body.get("cronWorkflow")
            self._answer(200, document)

    return Handler


@pytest.fixture
def fake_argo() -> Iterator[FakeArgo]:
    fake = FakeArgo(free_port())
    server = ThreadingHTTPServer(("127.0.0.1", fake.port), _handler(fake))
    # shutdown() waits for the loop to notice: half a second per test at the default poll interval
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def client(fake: FakeArgo, token: str = TOKEN):
    settings = Settings(ARGO_SERVER=f"http://127.0.0.1:{fake.port}", ARGO_TOKEN=token, ARGO_NAMESPACE=NAMESPACE)
    return argo.service(settings)


def test_lint_posts_the_rendered_template_with_the_bearer_token(fake_argo: FakeArgo) -> None:
    assert argo.lint("training", client(fake_argo)) == "WorkflowTemplate training: valid"
    [(method, path, authorization, body)] = fake_argo.requests
    assert (method, path) == ("POST", f"/api/v1/workflow-templates/{NAMESPACE}/lint")
    assert authorization == f"Bearer {TOKEN}"
    assert body["template"]["metadata"]["name"] == "training"
    assert body["template"]["spec"]["templates"] == load_document("training")["spec"]["templates"]


def test_lint_of_a_cron_workflow_uses_the_cron_endpoint(fake_argo: FakeArgo) -> None:
    argo.lint("etl-nightly", client(fake_argo))
    assert fake_argo.paths() == [("POST", f"/api/v1/cron-workflows/{NAMESPACE}/lint")]
    assert fake_argo.requests[0][3]["cronWorkflow"]["spec"]["schedules"] == ["0 2 * * *"]


def test_a_refused_lint_is_bad_input_with_the_servers_reason(fake_argo: FakeArgo) -> None:
    fake_argo.refuse_lint = "spec.templates[1].container.image is required"
    with pytest.raises(CommandError, match="image is required") as raised:
        argo.lint("etl", client(fake_argo))
    assert raised.value.code == ExitCode.BAD_INPUT


def test_submit_creates_the_template_then_submits_a_run_with_parameters(fake_argo: FakeArgo) -> None:
    submitted = argo.submit("etl", {"scrape": "true", "months": "2"}, client(fake_argo))
    assert submitted == argo.Submitted("Workflow", "etl-x7k2p", NAMESPACE)
    assert fake_argo.paths() == [
        ("GET", f"/api/v1/workflow-templates/{NAMESPACE}/etl"),
        ("POST", f"/api/v1/workflow-templates/{NAMESPACE}"),
        ("POST", f"/api/v1/workflows/{NAMESPACE}/submit"),
    ]
    assert all(authorization == f"Bearer {TOKEN}" for _, _, authorization, _ in fake_argo.requests)
    submit_body = fake_argo.requests[-1][3]
    assert submit_body["resourceKind"] == "WorkflowTemplate" and submit_body["resourceName"] == "etl"
    assert submit_body["submitOptions"]["parameters"] == ["scrape=true", "months=2"]


def test_a_second_submit_updates_the_stored_template_with_its_resource_version(fake_argo: FakeArgo) -> None:
    argo.submit("training", {}, client(fake_argo))
    argo.submit("training", {}, client(fake_argo))
    method, path, _, body = fake_argo.requests[-2]
    assert (method, path) == ("PUT", f"/api/v1/workflow-templates/{NAMESPACE}/training")
    assert body["template"]["metadata"]["resourceVersion"] == "1"


def test_submitting_a_cron_installs_its_template_and_the_cron(fake_argo: FakeArgo) -> None:
    assert argo.submit("training-weekly", {}, client(fake_argo)).kind == "CronWorkflow"
    assert ("POST", f"/api/v1/workflow-templates/{NAMESPACE}") in fake_argo.paths()
    assert fake_argo.paths()[-1] == ("POST", f"/api/v1/cron-workflows/{NAMESPACE}")
    assert fake_argo.requests[-1][3]["cronWorkflow"]["spec"]["concurrencyPolicy"] == "Forbid"


def test_bad_parameters_are_refused_before_anything_is_sent(fake_argo: FakeArgo) -> None:
    with pytest.raises(CommandError, match="not one of"):
        argo.submit("etl", {"scrape": "maybe"}, client(fake_argo))
    assert fake_argo.requests == []


def test_without_argo_server_the_command_says_so() -> None:
    with pytest.raises(CommandError, match="ARGO_SERVER is not set") as raised:
        argo.service(Settings(ARGO_SERVER=""))
    assert raised.value.code == ExitCode.BAD_INPUT
