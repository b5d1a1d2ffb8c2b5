"""One reconcile of one ModelBinding: observe (API server, MLflow, Prometheus), plan, write.

The decisions are the pure functions of shared/operator/plan.py and analysis.py; this module only
gathers their inputs and carries out their outputs. The kopf handlers in operators/ call `sync`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import httpx

from shared.clock import utcnow
from shared.events.contract import MODEL_PROMOTED, ModelPromoted, make_event
from shared.operator.analysis import analyse, analysis_due, apply_verdict
from shared.operator.kube import Kube
from shared.operator.plan import Event, Plan, World, merge_patch, reconcile, registry_unreachable, wanted_revisions
from shared.operator.registry import Promotion, Registry, RegistryUnreachable, VersionNotFound
from shared.operator.spec import BindingSpec

log = logging.getLogger("time2bet.operator")

PROMOTED_EVENT = MODEL_PROMOTED
EVENT_SOURCE = "/operators/modelbinding"


class RegistryDown(RuntimeError):
    """MLflow is unreachable; the status says so and the caller should retry with backoff."""


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    permanent_failure: str | None = None  # a promotion no retry can carry out
    patched_service: bool = False


def editor(binding: dict[str, Any]) -> str:
    """Who changed the spec last, as far as the API server recorded it (managedFields), for MLflow tags."""
    metadata = binding.get("metadata", {})
    where = f"ModelBinding {metadata.get('namespace')}/{metadata.get('name')} generation {metadata.get('generation')}"
    spec_managers = [entry for entry in metadata.get("managedFields", []) if "f:spec" in (entry.get("fieldsV1") or {})]
    if spec_managers:
        latest = max(spec_managers, key=lambda entry: entry.get("time", ""))
        return f"{latest.get('manager', 'unknown')} via {where}"
    return where


@dataclass(frozen=True)
class RegistryAnswer:
    champion: str | None
    challenger: str | None
    message: str  # why champion is None


class Reconciler:
    def __init__(self, kube: Kube, registry: Registry, publish: Any) -> None:
        self.kube = kube
        self.registry = registry
        # (namespace, name) → (generation, answer): what MLflow said at the last poll, for the passes
        # in between (a Revision turning Ready, an analysis, a deadline check) that need not ask again
        self._answers: dict[tuple[str, str], tuple[int, RegistryAnswer]] = {}
        self.publish = publish  # operators/modelbinding.py _publish (a Services' publisher per event), or a test's
        self.prometheus = httpx.AsyncClient()

    async def close(self) -> None:
        await self.prometheus.aclose()
        await self.kube.close()

    async def sync(
        self,
        namespace: str,
        name: str,
        *,
        promote: bool,
        analyse_now: bool,
        ask_registry: bool = True,
        waiting_for: str | None = None,
        promoted: Callable[[Promotion], None] = lambda _: None,
    ) -> Outcome:
        """One reconcile. `ask_registry` False: MLflow's answer at the last poll of this generation of the
        spec serves again (MLflow is asked when there is none, and always to promote). `waiting_for`: a
        revision whose readiness changed; the pass is skipped unless the binding is rolling to that
        revision. `promoted` is told as soon as the alias moved (before the Service is touched, so a
        failure there cannot lose the announcement)."""
        binding = await self.kube.get_binding(namespace, name)
        if binding is None:
            self._answers.pop((namespace, name), None)
            return Outcome()
        old_status: dict[str, Any] = binding.get("status") or {}
        if waiting_for is not None and (old_status.get("rollout") or {}).get("revision") != waiting_for:
            return Outcome()
        spec = BindingSpec.parse(binding["spec"])
        generation = int(binding["metadata"].get("generation", 1))
        now = utcnow()
        outcome = Outcome()
        promotion = None
        cached = self._answers.get((namespace, name))
        if ask_registry or promote or cached is None or cached[0] != generation:
            try:
                promotion, answer = await self._ask_registry(spec, binding, promote, now)
            except RegistryUnreachable as exc:
                await self._write_status(namespace, name, old_status, registry_unreachable(old_status, str(exc), now))
                raise RegistryDown(str(exc)) from None
            self._answers[(namespace, name)] = (generation, answer)
        else:
            answer = cached[1]
        if promotion is not None:
            outcome.events.append(
                Event(
                    "Normal",
                    "Promoted",
                    f"{spec.champion.alias} alias of {spec.model} moved "
                    f"from {promotion.previous_version} to {promotion.version}",
                )
            )
            promoted(promotion)
        if promote and spec.champion.version and answer.champion is None:
            outcome.permanent_failure = answer.message
        world = World(
            spec=spec,
            generation=generation,
            now=now,
            status=old_status,
            service={},
            champion_version=answer.champion,
            challenger_version=answer.challenger,
            registry_message=answer.message,
        )
        await self._converge(world, namespace, name, analyse_now, outcome)
        return outcome

    async def _converge(self, world: World, namespace: str, name: str, analyse_now: bool, outcome: Outcome) -> None:
        """Analysis when due, then the Service patch and the status the plan asks for."""
        spec, now, old_status = world.spec, world.now, world.status
        status = old_status
        if analyse_now and analysis_due(spec, status, now):
            status = await self._analyse(spec, status, namespace, world.generation, now, outcome)

        service = await self.kube.get_service(namespace, spec.service)
        if service is None:
            outcome.events.append(Event("Warning", "ServiceNotFound", f"Knative Service {spec.service} not found"))
            return
        world = await self._with_revisions(replace(world, status=status, service=service), namespace)
        plan: Plan = reconcile(world)
        if plan.service_patch is not None:
            await self.kube.patch_service(namespace, spec.service, plan.service_patch)
            outcome.patched_service = True
        await self._write_status(namespace, name, old_status, plan.status)
        outcome.events.extend(plan.events)

    async def _ask_registry(
        self, spec: BindingSpec, binding: dict[str, Any], promote: bool, now: datetime
    ) -> tuple[Promotion | None, RegistryAnswer]:
        """The promotion made (if any) and the versions the spec names now."""
        if spec.suspend:
            return None, RegistryAnswer(None, None, "")
        promotion = None
        champion: str | None
        message = ""
        pinned = spec.champion.version
        try:
            if pinned and promote:  # promote() checks the version exists
                promotion = await asyncio.to_thread(
                    self.registry.promote, spec.model, spec.champion.alias, pinned, editor(binding), now
                )
            elif pinned:
                await asyncio.to_thread(self.registry.require_version, spec.model, pinned)
            champion = pinned or await asyncio.to_thread(self.registry.resolve, spec.model, spec.champion.alias)
            if champion is None:
                message = f"model {spec.model!r} has no version with alias {spec.champion.alias!r}"
        except VersionNotFound as exc:
            champion, message = None, f"{exc}: the champion stays where it is"
        challenger = None
        if spec.challenger.schedule:
            challenger = await asyncio.to_thread(self.registry.resolve, spec.model, spec.challenger.alias)
        return promotion, RegistryAnswer(champion, challenger, message)

    async def announce(self, promotion: Promotion, namespace: str, name: str) -> list[Event]:
        """Publish io.time2bet.model.promoted; the Events to post when it could not be."""
        data = ModelPromoted(
            model_name=promotion.model,
            version=promotion.version,
            alias=promotion.alias,
            previous_version=promotion.previous_version,
        )
        event = make_event(PROMOTED_EVENT, data, source=f"{EVENT_SOURCE}/{namespace}/{name}", subject=promotion.model)
        try:
            await asyncio.to_thread(self.publish, event)
        except Exception as exc:  # the alias moved all the same: say so rather than undo a promotion
            log.warning("%s not published: %s", PROMOTED_EVENT, exc)
            return [Event("Warning", "PublishFailed", f"{PROMOTED_EVENT} not published: {exc}")]
        return []

    async def _analyse(
        self,
        spec: BindingSpec,
        status: dict[str, Any],
        namespace: str,
        generation: int,
        now: datetime,
        outcome: Outcome,
    ) -> dict[str, Any]:
        challenger = status["challenger"]
        verdict = await analyse(self.prometheus, spec, namespace, challenger["revision"])
        status, rejection = apply_verdict(spec, status, verdict, generation, now)
        if rejection is not None:
            try:
                await asyncio.to_thread(
                    self.registry.record_rollback, spec.model, rejection["version"], rejection["message"], now
                )
            except RegistryUnreachable as exc:
                outcome.events.append(Event("Warning", "RollbackNotTagged", f"rollback_reason not tagged: {exc}"))
        return status

    async def _with_revisions(self, world: World, namespace: str) -> World:
        names = {revision for _, _, revision in wanted_revisions(world)}
        readiness = {name: await self.kube.revision_readiness(namespace, name) for name in sorted(names)}
        return replace(world, revisions=readiness)

    async def _write_status(self, namespace: str, name: str, old: dict[str, Any], new: dict[str, Any]) -> None:
        patch = merge_patch(old, new)
        if patch:
            await self.kube.patch_binding_status(namespace, name, patch)
