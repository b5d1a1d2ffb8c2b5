"""kopf handlers for ModelBinding (time2bet.io/v1alpha1): thin, everything else is shared/operator.

- on.create / on.update of the spec: reconcile now; a pinned version that changed is a promotion
  (MLflow's alias moves, io.time2bet.model.promoted is published). A pinned version MLflow does not
  have is a kopf.PermanentError: retrying the same spec cannot help.
- a Revision whose Ready condition changes (a watch, no polling): the binding rolling to it
  reconciles at once, so traffic follows a new revision as soon as Knative has it Ready.
- a timer ticks every TICK_S per binding (MODELBINDING_TICK_SECONDS, default 1); it asks MLflow
  every spec.pollInterval and Prometheus every spec.analysis.interval, checks the progress deadline
  while a revision is not Ready, and does nothing in between. No interval in a spec is kept more
  finely than the tick. Passes between polls reuse MLflow's last answer. A tick leaves a spec
  generation the change handler has not carried out yet to that handler (it promotes; a tick would
  roll a pinned version without moving the alias first).
- MLflow unreachable: RegistryReachable=False and kopf.TemporaryError with exponential backoff.
- No delete handler: deleting a ModelBinding leaves the Service serving as it is. The binding does
  carry a finalizer (FINALIZER): kopf puts one on every object with a timer, to stop the timer
  before the object goes; it is removed at once, so with the operator stopped a deletion waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import kopf

from shared.clock import utcnow
from shared.config import get_settings
from shared.operator.analysis import analysis_due
from shared.operator.kube import Kube, KubeError, connection_info, revision_readiness
from shared.operator.plan import Event, Readiness
from shared.operator.reconciler import Reconciler, RegistryDown
from shared.operator.registry import Promotion, Registry
from shared.operator.spec import BindingSpec

if TYPE_CHECKING:
    from cloudevents.http import CloudEvent

RESOURCE = ("time2bet.io", "v1alpha1", "modelbindings")
REVISIONS = ("serving.knative.dev", "v1", "revisions")
SERVICE_LABEL = "serving.knative.dev/service"  # Knative puts it on every Revision of a Service
TICK_S = float(os.environ.get("MODELBINDING_TICK_SECONDS", "1"))
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 300.0
ANNOTATION_PREFIX = "time2bet.io"
FINALIZER = f"{ANNOTATION_PREFIX}/modelbinding-operator"


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # kopf's bookkeeping under our own annotation prefix; no cluster-wide CRD/namespace scanning,
    # which a namespaced Role does not allow (and a single-namespace operator does not need).
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=ANNOTATION_PREFIX)
    settings.persistence.finalizer = FINALIZER
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING  # Events are for what the operator decided, not its logs
    registry = Registry(get_settings().resolved_mlflow_tracking_uri)
    memo.reconciler = Reconciler(Kube(connection_info(settings)), registry, _publish)
    # shared by every object's memo (kopf copies the operator's memo shallowly): the revision
    # handler reconciles bindings too, and must take the same per-binding lock
    memo.bindings = {}
    memo.revisions = {}
    memo.announcing = set()  # publishing tasks, awaited before the operator exits


@dataclass
class BindingState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one reconcile at a time per binding
    registry_failures: int = 0
    last_poll: float | None = None


@kopf.on.login()
def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
    # kopf registers its fallback logins when it is first imported, and only those whose source
    # (KUBECONFIG, a service account) exists at that moment; this one looks when the operator starts.
    return connection_info(settings)


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    await asyncio.gather(*memo.announcing)
    await memo.reconciler.close()


def _publish(event: CloudEvent) -> None:
    """Promotions are rare: connect to the broker for each one and close, rather than keep a
    connection idle for hours."""
    from shared.services import Services

    with Services.from_environment() as services:
        services.publisher.publish(event)


def _post(ref: Mapping[str, Any], events: list[Event]) -> None:
    for event in events:
        kopf.event(ref, type=event.type, reason=event.reason, message=event.message)


def _reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """What kopf.event needs to name a binding."""
    meta = body["metadata"]
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "metadata": {"namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid")},
    }


async def _sync(
    ref: Mapping[str, Any],
    memo: kopf.Memo,
    *,
    promote: bool = False,
    poll: bool = False,
    analyse_now: bool = False,
    waiting_for: str | None = None,
) -> None:
    namespace, name = ref["metadata"]["namespace"], ref["metadata"]["name"]
    state: BindingState = memo.bindings.setdefault((namespace, name), BindingState())
    async with state.lock:
        try:
            outcome = await memo.reconciler.sync(
                namespace,
                name,
                promote=promote,
                analyse_now=analyse_now,
                ask_registry=poll,
                waiting_for=waiting_for,
                promoted=lambda promotion: _announce(ref, memo, promotion),
            )
        except RegistryDown as exc:
            state.registry_failures += 1
            _post(ref, [Event("Warning", "RegistryUnreachable", str(exc))] if state.registry_failures == 1 else [])
            delay = min(BACKOFF_BASE_S * 2 ** (state.registry_failures - 1), BACKOFF_MAX_S)
            raise kopf.TemporaryError(str(exc), delay=delay) from None
        except KubeError as exc:
            raise kopf.TemporaryError(str(exc), delay=BACKOFF_BASE_S) from None
        state.registry_failures = 0
        if poll or promote:
            state.last_poll = time.monotonic()
    _post(ref, outcome.events)
    if outcome.permanent_failure:
        raise kopf.PermanentError(outcome.permanent_failure)


def _announce(ref: Mapping[str, Any], memo: kopf.Memo, promotion: Promotion) -> None:
    """Publish io.time2bet.model.promoted in the background: a broker connection is not on the
    edit → traffic path."""

    async def publish() -> None:
        meta = ref["metadata"]
        _post(ref, await memo.reconciler.announce(promotion, meta["namespace"], meta["name"]))

    task = asyncio.create_task(publish())
    memo.announcing.add(task)
    task.add_done_callback(memo.announcing.discard)


@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
async def spec_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _sync(_reference(body), memo, promote=True)


@kopf.timer(*RESOURCE, interval=TICK_S)
async def tick(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, memo: kopf.Memo, **_: Any) -> None:
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        return  # a spec the change handler has not carried out yet: it promotes, a tick would not
    parsed = BindingSpec.parse(dict(spec))
    state: BindingState = memo.bindings.setdefault((body.metadata.namespace, body.metadata.name), BindingState())
    poll_due = state.last_poll is None or time.monotonic() - state.last_poll >= parsed.poll_interval_s
    analysis_now = analysis_due(parsed, dict(status), utcnow())
    waiting = status.get("phase") == "Progressing"  # the progress deadline is checked every tick
    if poll_due or analysis_now or waiting:
        await _sync(_reference(body), memo, poll=poll_due, analyse_now=analysis_now)


@kopf.index(*RESOURCE)
def bindings_by_service(body: kopf.Body, spec: kopf.Spec, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(body.metadata.namespace, spec.get("service", "")): _reference(body)}


@kopf.on.event(*REVISIONS)
async def revision_changed(event: kopf.RawEvent, memo: kopf.Memo, bindings_by_service: kopf.Index, **_: Any) -> None:
    """A Revision turned Ready (or failed): the binding rolling to it moves traffic now, not at its next tick."""
    if not memo.get("watch_revisions", True):  # `t2b bench operator`'s timer-only alternative
        return
    revision = event["object"]
    meta = revision.get("metadata", {})
    key = (meta.get("namespace", ""), meta.get("name", ""))
    if event["type"] == "DELETED":
        memo.revisions.pop(key, None)
        return
    readiness = revision_readiness(revision)
    if readiness is Readiness.PENDING or memo.revisions.get(key) is readiness:
        memo.revisions[key] = readiness
        return
    memo.revisions[key] = readiness
    service = (meta.get("labels") or {}).get(SERVICE_LABEL, "")
    for ref in bindings_by_service.get((key[0], service), []):
        # a failure here is retried by the binding's own timer, which runs the same reconcile
        with contextlib.suppress(kopf.TemporaryError):
            await _sync(ref, memo, waiting_for=key[1])


@kopf.on.event(*RESOURCE)
def binding_gone(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    if event["type"] == "DELETED":
        meta = event["object"]["metadata"]
        memo.bindings.pop((meta["namespace"], meta["name"]), None)
