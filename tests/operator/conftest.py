"""The operator end to end: kopf's KopfRunner against kmock's Kubernetes emulator, a real MLflow server.

FAKES (and only these): the Kubernetes API server is kmock's emulator made faithful
(shared/operator/emulator.py); Knative's controller is played by `KnativeStandIn` (it turns a
Service template into a Revision and marks it Ready, or not, as the test says); Prometheus is
`FakePrometheus` (tests/operator/servers.py), a small HTTP server answering its query API. MLflow
is a real tracking server (tests/mlflow_fixtures.py), reached through a TCP relay the tests can cut.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import kopf
import pytest
import yaml
from kopf.testing import KopfRunner
from mlflow import MlflowClient

from shared.operator.emulator import BINDINGS, SERVICES, Cluster, EmulatorThread, KnativeStandIn, wait_for
from tests.operator.servers import FakePrometheus, SwitchableProxy
from tests.services import REPO

NAMESPACE = "time2bet"
OPERATOR_TOKEN = "modelbinding-operator"
OPERATOR_MODULE = REPO / "operators" / "modelbinding.py"
TICK_S = 0.25  # the operator's timer, so that the tests' 250ms intervals are kept (1 s deployed)
PREDICT_SERVICE = REPO / "knative" / "base" / "services" / "predict.yaml"


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread() as running:
        yield running


@pytest.fixture(scope="session")
def cluster(emulator: EmulatorThread) -> Iterator[Cluster]:
    client = Cluster(emulator.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def readiness() -> dict[str, str]:
    """Revision name → the Ready status the Knative stand-in gives it (default True)."""
    return {}


@pytest.fixture(scope="module")  # its thread watches every Service: it must not outlive the module
def knative(cluster: Cluster, readiness: dict[str, str]) -> Iterator[KnativeStandIn]:
    with KnativeStandIn(cluster, NAMESPACE, lambda name: readiness.get(name, "True")) as stand_in:
        yield stand_in


@pytest.fixture(scope="session")
def mlflow_relay(mlflow_server: str) -> Iterator[SwitchableProxy]:
    relay = SwitchableProxy(urlsplit(mlflow_server).port or 80).start()
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.close()


@pytest.fixture
def mlflow(mlflow_server: str) -> MlflowClient:
    return MlflowClient(mlflow_server, mlflow_server)


class Operator:
    """`kopf run` of operators/modelbinding.py (as `t2b operator run` runs it) in KopfRunner's thread.

    One per test module: kopf's start-up costs seconds; `restart()` is the restart-idempotence case."""

    def __init__(self) -> None:
        self._runner: KopfRunner | None = None

    def start(self) -> None:
        args = ["run", "--standalone", "--namespace", NAMESPACE, str(OPERATOR_MODULE)]
        # kopf executes the module anew at each start: a registry of its own, or every handler of an
        # earlier start would be registered (and run) again
        self._runner = KopfRunner(args, timeout=60, registry=kopf.OperatorRegistry())
        self._runner.__enter__()

    def stop(self) -> None:
        assert self._runner is not None
        self._runner.__exit__(None, None, None)
        assert self._runner.exit_code == 0, self._runner.output[-3000:]
        self._runner = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __call__(self) -> contextlib.AbstractContextManager[None]:
        """`with operator():` reads as "while the operator runs" (it runs for the whole module)."""
        return contextlib.nullcontext()


@pytest.fixture(scope="module")
def operator(
    emulator: EmulatorThread,
    knative: KnativeStandIn,
    mlflow_relay: SwitchableProxy,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    with pytest.MonkeyPatch.context() as patch:
        kubeconfig = emulator.kubeconfig(tmp_path_factory.mktemp("operator") / "kubeconfig", OPERATOR_TOKEN)
        patch.setenv("KUBECONFIG", str(kubeconfig))
        patch.setenv("MODELBINDING_TICK_SECONDS", str(TICK_S))
        patch.setenv("MLFLOW_TRACKING_URI", mlflow_relay.url)
        patch.delenv("AMQP_URL", raising=False)
        running = Operator()
        running.start()
        yield running
        running.stop()


@dataclass
class Binding:
    """One ModelBinding, its Service and its registered model, all named uniquely for one test."""

    cluster: Cluster
    mlflow: MlflowClient
    name: str
    service: str
    model: str

    def register(self, count: int) -> None:
        self.mlflow.create_registered_model(self.model)
        for index in range(count):
            self.mlflow.create_model_version(self.model, f"s3://models/{self.model}/{index + 1}", await_creation_for=0)

    def alias(self, alias: str, version: str) -> None:
        self.mlflow.set_registered_model_alias(self.model, alias, version)

    def create_service(self) -> None:
        service = next(d for d in yaml.safe_load_all(PREDICT_SERVICE.read_text()) if d and d["kind"] == "Service")
        service["metadata"]["name"] = self.service
        self.cluster.create(SERVICES, NAMESPACE, service)

    def create(self, **spec: Any) -> None:
        self.cluster.create(
            BINDINGS,
            NAMESPACE,
            {
                "apiVersion": "time2bet.io/v1alpha1",
                "kind": "ModelBinding",
                "metadata": {"name": self.name},
                "spec": {"model": self.model, "service": self.service, **spec},
            },
        )

    def patch_spec(self, spec: dict[str, Any]) -> None:
        self.cluster.patch(BINDINGS, NAMESPACE, self.name, {"spec": spec})

    @property
    def status(self) -> dict[str, Any]:
        return (self.cluster.get(BINDINGS, NAMESPACE, self.name) or {}).get("status", {})

    @property
    def traffic(self) -> list[dict[str, Any]]:
        return (self.cluster.get(SERVICES, NAMESPACE, self.service) or {}).get("spec", {}).get("traffic", [])

    def wait_status(self, check: Callable[[dict[str, Any]], Any], what: str, timeout: float = 60.0) -> dict:
        return wait_for(lambda: (lambda status: status if check(status) else None)(self.status), timeout, what)

    def revision(self, version: str) -> str:
        return f"{self.service}-v{version}"


@pytest.fixture
def binding(cluster: Cluster, mlflow: MlflowClient) -> Iterator[Binding]:
    """Deleted afterwards with its Service, so the next test's operator and the Knative stand-in have only
    their own objects to look after."""
    suffix = uuid.uuid4().hex[:6]
    made = Binding(cluster, mlflow, name=f"outcome-{suffix}", service=f"predict-{suffix}", model=f"outcome-{suffix}")
    yield made
    if cluster.get(BINDINGS, NAMESPACE, made.name) is not None:
        cluster.delete(BINDINGS, NAMESPACE, made.name)
    if cluster.get(SERVICES, NAMESPACE, made.service) is not None:
        cluster.delete(SERVICES, NAMESPACE, made.service)
