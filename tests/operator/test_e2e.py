"""The operator end to end (the fakes are named in conftest.py's docstring): kopf runs the handlers of
operators/modelbinding.py against the emulator, MLflow is real, the test plays Knative.

Every wait is for a state (a status, a traffic list, an Event, a count of reconcile passes the
emulator recorded), never a sleep; the deadlines are upper bounds for a loaded machine.
"""

from __future__ import annotations

import json
from typing import Any

import pika
import pika.exceptions
import pytest

from operators.modelbinding import FINALIZER
from shared.events.rabbitmq import trigger_queue
from shared.operator.emulator import BINDINGS, EVENTS, REVISIONS, SERVICES, Cluster, EmulatorThread, wait_for
from tests.operator.conftest import NAMESPACE, OPERATOR_TOKEN, Binding
from tests.operator.rbac import granted, used
from tests.platform.crd_validation import errors

FAST = {"pollInterval": "250ms"}  # the operator's tick is 250ms in these tests (conftest.TICK_S)
DEADLINE_S = 60.0  # an upper bound only: each wait ends as soon as its state is reached


def events_of(cluster: Cluster, binding: Binding) -> dict[str, str]:
    """reason → message of the Events posted about the binding."""
    return {
        event["reason"]: event["message"]
        for event in cluster.list(EVENTS, NAMESPACE)
        if event.get("involvedObject", {}).get("name") == binding.name
    }


def posted(cluster: Cluster, binding: Binding, reason: str) -> str:
    """The message of the Event with `reason`, once kopf has posted it (it posts after the handler)."""
    return wait_for(lambda: events_of(cluster, binding).get(reason), DEADLINE_S, f"a {reason} Event")


def service_reads(emulator: EmulatorThread, binding: Binding) -> int:
    """The operator's GETs of the binding's Service: one per full reconcile pass, before it writes anything."""
    return sum(
        1
        for r in emulator.requests()
        if r.headers.get("Authorization") == f"Bearer {OPERATOR_TOKEN}"
        and r.method.value.upper() == "GET"
        and r.resource is not None
        and r.resource.plural == "services"
        and r.name == binding.service
    )


def after_two_more_passes(emulator: EmulatorThread, binding: Binding) -> None:
    """Wait until the operator has finished two more reconcile passes: a third one has started (one
    pass at a time per binding), so whatever the two would write is written."""
    seen = service_reads(emulator, binding)
    wait_for(lambda: service_reads(emulator, binding) >= seen + 3, DEADLINE_S, "two more reconcile passes")


def assert_valid_traffic(traffic: list[dict[str, Any]], cluster: Cluster) -> None:
    """Knative's webhook rules the schema does not hold: integers summing to 100, Ready revisions only."""
    assert sum(entry["percent"] for entry in traffic) == 100, traffic
    for entry in traffic:
        assert isinstance(entry["percent"], int)
        revision = cluster.get(REVISIONS, NAMESPACE, entry["revisionName"])
        assert revision is not None and revision["status"]["conditions"][0]["status"] == "True", entry


def assert_service_matches_knative_crd(cluster: Cluster, binding: Binding) -> None:
    service = cluster.get(SERVICES, NAMESPACE, binding.service)
    assert service is not None
    manifest = {**service, "metadata": {"name": service["metadata"]["name"]}}
    manifest.pop("status", None)
    assert errors(manifest) == []
    name = service["spec"]["template"]["metadata"]["name"]
    assert name.startswith(f"{binding.service}-v")  # Knative's webhook: <service>- prefix
    env = service["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "MODEL_VERSION", "value": name.rsplit("-v", 1)[1]} in env


def serving(binding: Binding, version: str) -> bool:
    return binding.traffic == [{"revisionName": binding.revision(version), "percent": 100, "tag": "champion"}]


def started(binding: Binding, versions: int, champion: str, challenger_version: str | None = None, **spec: Any) -> None:
    binding.register(versions)
    binding.alias("champion", champion)
    if challenger_version:
        binding.alias("challenger", challenger_version)
    binding.create_service()
    binding.create(**{**FAST, **spec})


def test_first_champion_gets_a_pinned_revision_then_all_traffic(operator, binding: Binding, cluster) -> None:
    with operator():
        started(binding, 3, "2")
        status = binding.wait_status(lambda s: s.get("phase") == "Ready", "phase Ready")
    assert status["champion"] == {"version": "2", "revision": binding.revision("2")}
    assert serving(binding, "2")
    assert status["trafficSummary"] == "v2=100"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "RegistryReachable": "True",
        "RevisionsReady": "True",
        "AnalysisHealthy": "Unknown",
    }
    assert status["observedGeneration"] == 1
    assert_service_matches_knative_crd(cluster, binding)
    assert_valid_traffic(binding.traffic, cluster)


def test_alias_moved_in_mlflow_rolls_a_new_revision_and_moves_traffic(operator, binding: Binding, cluster) -> None:
    with operator():
        started(binding, 3, "1")
        wait_for(lambda: serving(binding, "1"), DEADLINE_S, "v1 serving")
        binding.alias("champion", "3")
        wait_for(lambda: serving(binding, "3"), DEADLINE_S, "traffic on v3 after the alias moved")
    assert binding.status["champion"]["version"] == "3"
    assert_service_matches_knative_crd(cluster, binding)
    assert_valid_traffic(binding.traffic, cluster)


def test_promotion_by_crd_edit_moves_the_mlflow_alias_and_publishes(
    operator, binding: Binding, cluster, mlflow, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with operator():
        monkeypatch.setenv("AMQP_URL", amqp_url)  # the operator's services are built at its first promotion
        started(binding, 3, "1")
        wait_for(lambda: serving(binding, "1"), DEADLINE_S, "v1 serving")
        binding.patch_spec({"champion": {"version": "3"}})
        wait_for(lambda: serving(binding, "3"), DEADLINE_S, "traffic on v3 after the CRD edit")
        assert binding.status["observedGeneration"] == 2
        # published in the background once the alias moved: wait for it while the operator runs
        body = promoted_message(amqp_url)
    assert mlflow.get_model_version_by_alias(binding.model, "champion").version == "3"
    tags = mlflow.get_model_version(binding.model, "3").tags
    assert binding.name in tags["promoted_by"] and tags["promoted_at"].startswith("20")
    assert "from 1 to 3" in posted(cluster, binding, "Promoted")
    assert json.loads(body) == {
        "model_name": binding.model,
        "version": "3",
        "alias": "champion",
        "previous_version": "1",
    }


def promoted_message(amqp_url: str) -> bytes:
    """The message on batch-score's queue for promotions, once there is one (the queue itself appears
    when the operator's publisher declares the topology, at its first publish)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))

    def next_message() -> bytes | None:
        channel = connection.channel()
        try:
            method, _properties, body = channel.basic_get(trigger_queue("batch-score-on-model-promoted"))
        except pika.exceptions.ChannelClosedByBroker:
            return None
        channel.close()
        return body if method is not None else None

    try:
        return wait_for(next_message, DEADLINE_S, "io.time2bet.model.promoted on the batch-score queue", 0.5)
    finally:
        connection.close()


def test_challenger_steps_up_after_healthy_analyses(operator, binding: Binding, cluster, prometheus, emulator) -> None:
    challenger = {"percent": 30, "steps": [10, 20], "interval": "250ms"}
    analysis = {"interval": "250ms", "prometheusUrl": prometheus.url, "failureThreshold": 2}
    prometheus.samples[binding.revision("2")] = (0.0, 120.0)
    with operator():
        # no alias moves here: no polling, so each analysis pass asks Prometheus and not MLflow
        started(binding, 2, "1", "2", challenger=challenger, analysis=analysis, pollInterval="1h")
        status = binding.wait_status(lambda s: s.get("phase") == "Ready", "challenger at its final step")
    history = emulator.emulator.objects[SERVICES, NAMESPACE, binding.service].history
    seen = [
        entry["percent"]
        for version in history
        if version is not None
        for entry in version.get("spec", {}).get("traffic", [])
        if entry.get("tag") == "challenger"
    ]
    assert seen == sorted(seen) and {10, 20, 30} <= set(seen), seen
    assert status["challenger"]["percent"] == 30 and status["trafficSummary"] == "v1=70 v2=30"
    assert binding.traffic[1] == {"revisionName": binding.revision("2"), "percent": 30, "tag": "challenger"}
    assert_valid_traffic(binding.traffic, cluster)
    assert any(binding.revision("2") in query and "revision_app_request_count" in query for query in prometheus.queries)


def test_failed_analyses_roll_the_challenger_back_and_prometheus_down_is_inconclusive(
    operator, binding: Binding, cluster, prometheus, mlflow, emulator
) -> None:
    analysis = {"interval": "250ms", "prometheusUrl": prometheus.url, "failureThreshold": 2, "maxP99Latency": "500ms"}
    prometheus.down = True
    try:
        with operator():
            started(binding, 2, "1", "2", challenger={"percent": 20}, analysis=analysis)
            status = binding.wait_status(
                lambda s: (s.get("lastAnalysis") or {}).get("result") == "Inconclusive", "an inconclusive analysis"
            )
            assert status.get("failedChecks", 0) == 0 and status["phase"] == "Ready"
            prometheus.samples[binding.revision("2")] = (0.3, 900.0)
            prometheus.down = False
            status = binding.wait_status(lambda s: s.get("phase") == "RolledBack", "phase RolledBack")
            assert serving(binding, "1")
            after_two_more_passes(emulator, binding)  # the same version is not tried again
            assert serving(binding, "1") and binding.status["phase"] == "RolledBack"
    finally:
        prometheus.down = False
    assert status["failedChecks"] == 2
    healthy = next(c for c in status["conditions"] if c["type"] == "AnalysisHealthy")
    assert healthy["status"] == "False" and "error ratio 0.3000 > 0.05" in healthy["message"]
    assert "failed analyses in a row" in posted(cluster, binding, "RolledBack")
    assert "p99 latency 900ms > 500ms" in mlflow.get_model_version(binding.model, "2").tags["rollback_reason"]


def test_a_revision_never_ready_fails_the_binding_and_keeps_the_champion(
    operator, binding: Binding, cluster, readiness, emulator
) -> None:
    readiness[binding.revision("2")] = "Unknown"
    with operator():
        started(binding, 2, "1")  # the default deadline (10m): v1 is Ready however slow the machine
        wait_for(lambda: serving(binding, "1"), DEADLINE_S, "v1 serving")
        binding.patch_spec({"progressDeadline": "500ms"})  # then a short one, for v2 only
        binding.alias("champion", "2")
        status = binding.wait_status(lambda s: s.get("phase") == "Failed", "phase Failed")
        after_two_more_passes(emulator, binding)
        assert serving(binding, "1")
    assert status["champion"]["version"] == "1"
    assert binding.revision("2") in posted(cluster, binding, "ProgressDeadlineExceeded")
    ready = next(c for c in status["conditions"] if c["type"] == "RevisionsReady")
    assert ready["status"] == "False" and ready["reason"] == "ProgressDeadlineExceeded"


def test_an_unknown_version_fails_permanently_and_changes_nothing(operator, binding: Binding, cluster, mlflow) -> None:
    with operator():
        started(binding, 2, "1")
        wait_for(lambda: serving(binding, "1"), DEADLINE_S, "v1 serving")
        binding.patch_spec({"champion": {"version": "99"}})
        status = binding.wait_status(lambda s: s.get("phase") == "Failed", "phase Failed")
    assert "has no version 99" in status["message"]
    assert serving(binding, "1")
    assert mlflow.get_model_version_by_alias(binding.model, "champion").version == "1"
    assert "has no version 99" in posted(cluster, binding, "UnknownVersion")


def test_mlflow_down_then_back(operator, binding: Binding, mlflow_relay) -> None:
    with operator():
        started(binding, 2, "1")
        wait_for(lambda: serving(binding, "1"), DEADLINE_S, "v1 serving")
        mlflow_relay.stop()
        try:
            status = binding.wait_status(
                lambda s: any(c["type"] == "RegistryReachable" and c["status"] == "False" for c in s["conditions"]),
                "RegistryReachable=False",
            )
            assert serving(binding, "1")
            binding.alias("champion", "2")  # straight to MLflow, not through the relay
        finally:
            mlflow_relay.start()
        wait_for(lambda: serving(binding, "2"), DEADLINE_S, "traffic on v2 once MLflow is back")
        status = binding.status
    reachable = next(c for c in status["conditions"] if c["type"] == "RegistryReachable")
    assert reachable["status"] == "True"


def test_deleting_the_binding_leaves_the_service_serving(operator, binding: Binding, cluster) -> None:
    with operator():
        started(binding, 2, "2")
        binding.wait_status(lambda s: s.get("phase") == "Ready", "phase Ready")
        service = cluster.get(SERVICES, NAMESPACE, binding.service)
        finalizers = (cluster.get(BINDINGS, NAMESPACE, binding.name) or {})["metadata"].get("finalizers")
        assert finalizers == [FINALIZER]  # kopf's, to stop the binding's timer; no deletion handler
        cluster.delete(BINDINGS, NAMESPACE, binding.name)
        wait_for(lambda: cluster.get(BINDINGS, NAMESPACE, binding.name) is None, DEADLINE_S, "the binding gone")
    assert cluster.get(SERVICES, NAMESPACE, binding.service)["spec"] == service["spec"]
    assert serving(binding, "2")


def test_restart_creates_no_revision_and_changes_no_traffic(operator, binding: Binding, emulator) -> None:
    started(binding, 2, "2")
    binding.wait_status(lambda s: s.get("phase") == "Ready", "phase Ready")
    operator.stop()
    before = len(emulator.requests())
    operator.start()
    after_two_more_passes(emulator, binding)
    writes = [
        r
        for r in emulator.requests()[before:]
        if r.method.value in ("POST", "PATCH", "PUT", "DELETE")
        and r.resource is not None
        and r.resource.group == "serving.knative.dev"
    ]
    assert writes == []
    assert serving(binding, "2")


# Must stay the last test of this module: it audits what the tests above made the operator do.
def test_every_request_the_operator_made_is_granted_and_every_grant_used(emulator: EmulatorThread) -> None:
    requests = [r for r in emulator.requests() if r.headers.get("Authorization") == f"Bearer {OPERATOR_TOKEN}"]
    assert requests, "run the whole module: this test audits the requests of the tests above"
    made = used(requests)
    assert made - granted() == set(), "requests the Role does not allow"
    assert granted() - made == set(), "grants the operator never used"
