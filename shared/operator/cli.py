"""`t2b operator run` (the ModelBinding operator) and `t2b bench operator` (CRD edit → traffic patch)."""

from __future__ import annotations

import logging
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.errors import CommandError, ExitCode

operator_app = typer.Typer(help="The ModelBinding operator (kopf).", no_args_is_help=True)

BENCH_NAMESPACE = "bench"
GOAL_S = 1.0


@operator_app.command("run")
def run_command(
    namespace: str = typer.Option("time2bet", help="The namespace whose ModelBindings it looks after."),
    liveness: str | None = typer.Option(None, help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz"),
) -> None:
    """Run the operator against the current kubeconfig (or, in a pod, its service account)."""
    import kopf

    import operators.modelbinding  # noqa: F401  (registers the handlers with kopf)
    from shared.operator.kube import connection_info

    try:  # kopf itself would wait for credentials forever, saying nothing
        connection_info(kopf.OperatorSettings())
    except (kopf.LoginError, OSError, KeyError) as exc:
        raise CommandError(f"cannot log in to Kubernetes: {exc}", ExitCode.BAD_INPUT) from None
    kopf.run(standalone=True, namespaces=[namespace], liveness_endpoint=liveness)


def _start_operator(namespace: str, stop: threading.Event, *, watch_revisions: bool) -> threading.Thread:
    import kopf

    import operators.modelbinding  # noqa: F401

    ready = threading.Event()
    thread = threading.Thread(
        target=kopf.run,
        kwargs={
            "standalone": True,
            "namespaces": [namespace],
            "stop_flag": stop,
            "ready_flag": ready,
            "memo": kopf.Memo(watch_revisions=watch_revisions),
        },
        daemon=True,
        name="kopf",
    )
    thread.start()
    if not ready.wait(60):
        raise CommandError("the operator did not start within 60 s")
    return thread


@dataclass
class PromotionTimes:
    template: list[float] = field(default_factory=list)  # edit → template patch (a new revision requested)
    traffic_new: list[float] = field(default_factory=list)  # edit → traffic patch, new version
    traffic_known: list[float] = field(default_factory=list)  # edit → traffic patch, revision exists


def _time_promotions(
    cluster: Any, tracking_uri: str, namespace: str, rounds: int, *, watch_revisions: bool, known: bool
) -> PromotionTimes:
    """Promote `rounds` new versions (and, with `known`, `rounds` versions whose revision exists) by
    editing spec.champion.version, timing each edit to the Service patches it causes."""
    from mlflow import MlflowClient

    from shared.operator.emulator import BINDINGS, SERVICES, KnativeStandIn, wait_for

    model = f"bench-{namespace}"
    mlflow = MlflowClient(tracking_uri, tracking_uri)
    mlflow.create_registered_model(model)
    versions = [
        str(mlflow.create_model_version(model, f"s3://models/{n}", await_creation_for=0).version)
        for n in range(1, rounds + 3)
    ]
    mlflow.set_registered_model_alias(model, "champion", versions[0])
    cluster.create(
        SERVICES,
        namespace,
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "predict"},
            "spec": {"template": {"spec": {"containers": [{"image": "ghcr.io/time2bet/ml:latest"}]}}},
        },
    )
    cluster.create(
        BINDINGS,
        namespace,
        {
            "apiVersion": "time2bet.io/v1alpha1",
            "kind": "ModelBinding",
            "metadata": {"name": "outcome"},
            "spec": {"model": model, "service": "predict", "pollInterval": "1h"},
        },
    )

    def service_spec() -> dict[str, Any]:
        return (cluster.get(SERVICES, namespace, "predict") or {}).get("spec", {})

    def traffic_on(version: str) -> bool:
        traffic = service_spec().get("traffic", [])
        return bool(traffic) and traffic[0].get("revisionName") == f"predict-v{version}"

    def template_on(version: str) -> bool:
        return service_spec().get("template", {}).get("metadata", {}).get("name") == f"predict-v{version}"

    def promote(version: str) -> tuple[float, float]:
        started = time.perf_counter()
        cluster.patch(BINDINGS, namespace, "outcome", {"spec": {"champion": {"version": version}}})
        wait_for(lambda: template_on(version) or traffic_on(version), 30, f"revision for v{version}", 0.002)
        rolled = time.perf_counter() - started
        wait_for(lambda: traffic_on(version), 30, f"traffic on v{version}", 0.002)
        return rolled, time.perf_counter() - started

    times = PromotionTimes()
    stop = threading.Event()
    with KnativeStandIn(cluster, namespace):
        thread = _start_operator(namespace, stop, watch_revisions=watch_revisions)
        try:
            wait_for(lambda: traffic_on(versions[0]), 30, "the first champion", 0.01)
            promote(versions[1])  # warm-up: the first promotion imports what publishing needs
            for version in versions[2:]:
                rolled, moved = promote(version)
                times.template.append(rolled)
                times.traffic_new.append(moved)
            if known:
                times.traffic_known = [promote(versions[index % 2])[1] for index in range(rounds)]
        finally:
            stop.set()
            thread.join(15)
    return times


def bench_operator_command(
    rounds: int = typer.Option(10, min=2, max=50, help="Promotions timed per case."),
) -> None:
    """Time from a ModelBinding edit to the Service patch, operator against the kmock emulator.

    The registry is a real MLflow store (SQLite, in a temporary folder); Knative's controller is a
    stand-in that makes every new revision Ready at once. Goal: edit → traffic patch < 1 s. The
    alternative printed beside it is the same operator without its Revision watch, noticing a Ready
    revision at its next 1 s timer tick (how it worked before the watch).
    """
    from shared.bench.load import percentile
    from shared.operator.emulator import Cluster, EmulatorThread

    with tempfile.TemporaryDirectory() as scratch, EmulatorThread() as emulator:
        root = Path(scratch)
        tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
        # the operator in this process reads its settings like the deployed one: from the environment
        os.environ["KUBECONFIG"] = str(emulator.kubeconfig(root / "kubeconfig", "bench-operator"))
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        os.environ.pop("AMQP_URL", None)  # the bench's promotions are announced to no real broker
        # ... so the in-process bus, hosting no event function here, drops each one with an error line
        logging.getLogger("shared.events.bus").setLevel(logging.CRITICAL)
        cluster = Cluster(emulator.url)
        try:
            watched = _time_promotions(cluster, tracking_uri, "bench-watch", rounds, watch_revisions=True, known=True)
            timer = _time_promotions(cluster, tracking_uri, "bench-timer", rounds, watch_revisions=False, known=False)
        finally:
            cluster.close()

    table = Table(title=f"CRD edit → Service patch, kmock emulator, {rounds} promotions each (goal < {GOAL_S:g} s)")
    for column in ("edit → …", "Ready revision seen by", "median s", "p95 s", "max s", "goal met (median/p95)"):
        table.add_column(column)
    rows = [
        ("new version → template patch", "—", watched.template),
        ("new version → traffic patch", "Revision watch (now)", watched.traffic_new),
        ("new version → traffic patch", "1 s timer (alternative)", timer.traffic_new),
        ("known version → traffic patch", "— (revision exists)", watched.traffic_known),
    ]
    for label, how, times in rows:
        median, p95 = statistics.median(times), percentile(sorted(times), 0.95)
        met = "/".join("yes" if value < GOAL_S else "no" for value in (median, p95))
        table.add_row(label, how, f"{median:.3f}", f"{p95:.3f}", f"{max(times):.3f}", met)
    Console().print(table)
