"""The HTTP app every event function serves (shared/tasks/handler.py::event_function_app), on a function of
this module whose work is told by the event what to do: each failure's status and reason, the probes and
metrics beside the CloudEvent route, and as many events at once as Knative sends one pod."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import functions_framework.aio
import pytest
from cloudevents.http import CloudEvent
from starlette.testclient import TestClient

from shared.events.contract import InvalidEvent
from shared.events.http import to_binary, to_structured
from shared.function_spec import FunctionSpec, Scaling
from shared.services import Services
from shared.tasks.handler import EventTask, RetryLater, event_function_app, serve_event

# More than the loop's default executor has threads on a small machine (min(32, cores + 4)).
AT_ONCE = 12
SPEC = FunctionSpec(
    name="sample-event-function",
    kind="event",
    description="The test's own event function.",
    queue="api",
    scaling=Scaling(container_concurrency=AT_ONCE),
)
together = threading.Barrier(AT_ONCE, timeout=10)


def work(event: CloudEvent, _: Services) -> str:
    match event.get_data():
        case {"do": "reject"}:
            raise InvalidEvent("the data names no team")
        case {"do": "retry"}:
            raise RetryLater("the source blocked us", status=502)
        case {"do": "crash"}:
            raise KeyError("home_team")
        case {"do": "wait for the others"}:
            together.wait()
    return "done"


task = EventTask(function=SPEC.name, process=work, parse=lambda event: event)


@functions_framework.aio.cloud_event
def handle(event: CloudEvent) -> None:
    serve_event(task, event)


app = event_function_app(SPEC, handle)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[TestClient]:
    monkeypatch.setenv("T2B_DATA_DIR", str(tmp_path / "var"))
    with TestClient(app) as test_client:  # runs the lifespan: the executor, then the services' close
        yield test_client


def event(data: dict[str, str]) -> CloudEvent:
    return CloudEvent({"type": "io.time2bet.sample", "source": "/tests"}, data)


def post(client: TestClient, data: dict[str, str], mode: str = "binary"):
    headers, body = (to_binary if mode == "binary" else to_structured)(event(data))
    return client.post("/", headers=headers, content=body)


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_an_event_done_is_200_in_either_mode(client: TestClient, mode: str) -> None:
    response = post(client, {"do": "nothing"}, mode)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("do", "status", "reason"),
    [
        ("reject", 400, "the data names no team"),
        ("retry", 502, "the source blocked us"),
        ("crash", 500, "KeyError: 'home_team'"),
    ],
)
def test_each_failure_is_its_status_with_a_one_line_reason(
    client: TestClient, do: str, status: int, reason: str
) -> None:
    response = post(client, {"do": do})
    assert (response.status_code, response.text) == (status, reason)


def test_a_body_that_is_not_a_cloudevent_is_400(client: TestClient) -> None:
    response = client.post("/", json={"do": "nothing"})
    assert response.status_code == 400 and "CloudEvent" in response.text


def test_probes_and_metrics_answer_beside_the_event_route(client: TestClient) -> None:
    post(client, {"do": "reject"})
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/health/ready").status_code == 200
    metrics = client.get("/metrics").text
    assert (
        't2b_task_events_processed_total{function="sample-event-function",outcome="rejected",type="io.time2bet.sample"}'
        in metrics
    )
    assert client.get("/").status_code == 405  # events are POSTed


def test_as_many_events_run_at_once_as_knative_sends_one_pod(client: TestClient) -> None:
    """Each event waits until all have arrived: they pass only if the function runs them all at once."""
    with ThreadPoolExecutor(AT_ONCE) as senders:
        answers = list(senders.map(lambda _: post(client, {"do": "wait for the others"}), range(AT_ONCE)))
    assert [answer.status_code for answer in answers] == [200] * AT_ONCE
