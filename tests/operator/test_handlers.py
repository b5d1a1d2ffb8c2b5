"""The event-driven paths of the operator, without kopf's runner: which Revision events reconcile a
binding (operators/modelbinding.py), and that such a pass costs no MLflow call unless the binding
is rolling to that revision (shared/operator/reconciler.py).

FAKES: the reconciler, the Kubernetes client and the registry are small stand-ins recording their
calls; kopf's index is a dict (the handler only calls `.get`). The end-to-end tests run the real ones.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf
import pytest

from operators.modelbinding import revision_changed
from shared.operator.plan import Readiness
from shared.operator.reconciler import Outcome, Reconciler

NAMESPACE = "time2bet"
REF = {"apiVersion": "time2bet.io/v1alpha1", "kind": "ModelBinding", "metadata": {"namespace": NAMESPACE, "name": "b"}}


class RecordingReconciler:
    def __init__(self) -> None:
        self.waited_for: list[str | None] = []

    async def sync(self, namespace: str, name: str, *, waiting_for: str | None = None, **_: Any) -> Outcome:
        assert (namespace, name) == (NAMESPACE, "b")
        self.waited_for.append(waiting_for)
        return Outcome()


def revision_event(kind: str, name: str, ready: str | None, service: str = "predict") -> dict[str, Any]:
    revision: dict[str, Any] = {
        "metadata": {"namespace": NAMESPACE, "name": name, "labels": {"serving.knative.dev/service": service}}
    }
    if ready is not None:
        revision["status"] = {"conditions": [{"type": "Ready", "status": ready}]}
    return {"type": kind, "object": revision}


@pytest.fixture
def memo() -> kopf.Memo:
    return kopf.Memo(bindings={}, revisions={}, announcing=set(), reconciler=RecordingReconciler())


def deliver(memo: kopf.Memo, *events: dict[str, Any]) -> list[str | None]:
    index = {(NAMESPACE, "predict"): [REF]}

    async def run() -> None:
        for event in events:
            await revision_changed(event=event, memo=memo, bindings_by_service=index)

    asyncio.run(run())
    return memo.reconciler.waited_for


def test_a_revision_turning_ready_reconciles_its_services_binding_once(memo: kopf.Memo) -> None:
    assert deliver(
        memo,
        revision_event("ADDED", "predict-v2", None),  # created: no Ready condition yet
        revision_event("MODIFIED", "predict-v2", "Unknown"),
        revision_event("MODIFIED", "predict-v2", "True"),
        revision_event("MODIFIED", "predict-v2", "True"),  # another status change, same readiness
        revision_event("MODIFIED", "other-v1", "True", service="other"),  # no binding for that Service
    ) == ["predict-v2"]


def test_a_failed_revision_and_its_recovery_each_reconcile(memo: kopf.Memo) -> None:
    assert deliver(
        memo,
        revision_event("MODIFIED", "predict-v2", "False"),
        revision_event("MODIFIED", "predict-v2", "True"),
        revision_event("DELETED", "predict-v2", "True"),
        revision_event("ADDED", "predict-v2", "True"),  # the same name again: news once more
    ) == ["predict-v2", "predict-v2", "predict-v2"]


def test_without_the_revision_watch_only_the_timer_reconciles(memo: kopf.Memo) -> None:
    memo["watch_revisions"] = False  # `t2b bench operator`'s alternative
    assert deliver(memo, revision_event("MODIFIED", "predict-v2", "True")) == []


class CountingRegistry:
    """Names version 1 as champion; counts the questions."""

    def __init__(self) -> None:
        self.questions = 0

    def resolve(self, model: str, alias: str) -> str:
        self.questions += 1
        return "1"


class OneBinding:
    """The binding, its Service and a Ready revision: reads only; writes are recorded."""

    def __init__(self, binding: dict[str, Any]) -> None:
        self.binding = binding
        self.writes: list[dict[str, Any]] = []

    async def get_binding(self, namespace: str, name: str) -> dict[str, Any]:
        return self.binding

    async def get_service(self, namespace: str, name: str) -> dict[str, Any]:
        return {"spec": {"template": {"metadata": {"name": "predict-v1"}}}}

    async def revision_readiness(self, namespace: str, name: str) -> Readiness:
        return Readiness.READY

    async def patch_service(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.writes.append(patch)

    async def patch_binding_status(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.writes.append(patch)


def binding(generation: int, rollout: str = "predict-v1") -> dict[str, Any]:
    return {
        **REF,
        "metadata": {**REF["metadata"], "generation": generation},
        "spec": {"model": "m", "service": "predict"},
        "status": {"rollout": {"revision": rollout}},
    }


def run_passes(kube: OneBinding, registry: CountingRegistry, *calls: dict[str, Any]) -> list[tuple[Outcome, int]]:
    """Each pass's outcome and the questions MLflow was asked so far; a call {"binding": ...} swaps the
    binding the API server holds before the next pass."""
    reconciler = Reconciler(kube, registry, publish=None)  # type: ignore[arg-type]

    async def run() -> list[tuple[Outcome, int]]:
        results = []
        try:
            for call in calls:
                if "binding" in call:
                    kube.binding = call["binding"]
                    continue
                outcome = await reconciler.sync(NAMESPACE, "b", promote=False, analyse_now=False, **call)
                results.append((outcome, registry.questions))
        finally:
            await reconciler.prometheus.aclose()
        return results

    return asyncio.run(run())


def test_a_revision_pass_is_skipped_unless_the_binding_rolls_to_that_revision() -> None:
    kube, registry = OneBinding(binding(1, rollout="predict-v3")), CountingRegistry()
    assert run_passes(kube, registry, {"waiting_for": "predict-v2"}) == [(Outcome(), 0)]
    assert kube.writes == []


def test_mlflow_is_asked_at_polls_and_its_answer_serves_the_passes_in_between() -> None:
    kube, registry = OneBinding(binding(1)), CountingRegistry()
    asked = [
        questions
        for _, questions in run_passes(
            kube,
            registry,
            {},  # a poll
            {"ask_registry": False},  # an analysis or a deadline check
            {"waiting_for": "predict-v1", "ask_registry": False},  # the revision turned Ready
            {"binding": binding(2)},  # the spec changed: generation 1's answer does not serve
            {"ask_registry": False},
        )
    ]
    assert asked == [1, 1, 1, 2]
