"""What a ModelBinding wants of its Knative Service, as pure functions of what was observed.

One pass (`reconcile`) takes the spec, the last status, the versions the registry names and the
readiness of the revisions involved, and returns the Service patch (or None), the next status and
the Events to post. Nothing here does I/O, so an operator restart that observes the same world
computes no patch: that is the idempotence the operator relies on.

Rules (issue #11): a version N is served by the revision `<service>-vN`, whose template pins
`MODEL_VERSION=N`; revisions are rolled one at a time, champion first; traffic only names Ready
revisions, in integer percents summing to 100; a revision not Ready within the progress deadline
is given up on (phase Failed) and the champion's traffic stays where it was; a version given up on
is not retried until the alias names another version or the spec changes (a new generation).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from shared.operator.spec import BindingSpec

MODEL_VERSION_ENV = "MODEL_VERSION"
VERSION_LABEL = "time2bet.io/model-version"
CHAMPION_TAG = "champion"
CHALLENGER_TAG = "challenger"
ROLLED_BACK = "RolledBack"
DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"


class Readiness(Enum):
    READY = "Ready"
    PENDING = "Pending"  # exists, Ready condition Unknown or absent
    NOT_READY = "NotReady"  # exists, Ready=False (Knative may still recover it)
    MISSING = "Missing"  # no such Revision yet


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class World:
    """Everything one reconcile pass looks at."""

    spec: BindingSpec
    generation: int
    now: datetime
    status: dict[str, Any]
    service: dict[str, Any]
    champion_version: str | None
    challenger_version: str | None
    revisions: dict[str, Readiness] = field(default_factory=dict)
    registry_message: str = ""  # why champion_version is None


@dataclass(frozen=True)
class Plan:
    service_patch: dict[str, Any] | None
    status: dict[str, Any]
    events: list[Event]


def revision_name(service: str, version: str) -> str:
    return f"{service}-v{version}"


def timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_rejected(status: dict[str, Any], generation: int, version: str | None, role: str) -> bool:
    return any(
        entry.get("version") == version and entry.get("role") == role and entry.get("generation") == generation
        for entry in status.get("rejected", [])
    )


def wanted_revisions(world: World) -> list[tuple[str, str, str]]:
    """(role, version, revision) of what should exist, champion first; rejected versions left out."""
    spec, status = world.spec, world.status
    wanted: list[tuple[str, str, str]] = []
    if world.champion_version and not is_rejected(status, world.generation, world.champion_version, "champion"):
        wanted.append(("champion", world.champion_version, revision_name(spec.service, world.champion_version)))
    challenger = world.challenger_version
    if (
        spec.challenger.schedule
        and challenger
        and challenger != world.champion_version
        and not is_rejected(status, world.generation, challenger, "challenger")
    ):
        wanted.append(("challenger", challenger, revision_name(spec.service, challenger)))
    return wanted


def pinned_template(template: dict[str, Any], revision: str, version: str) -> dict[str, Any]:
    """The Service's template renamed to `revision`, every container pinned to `version`."""
    pinned = copy.deepcopy(template)
    metadata = pinned.setdefault("metadata", {})
    metadata["name"] = revision
    metadata.setdefault("labels", {})[VERSION_LABEL] = version
    for container in pinned.setdefault("spec", {}).setdefault("containers", [{}]):
        env = [entry for entry in container.get("env", []) if entry.get("name") != MODEL_VERSION_ENV]
        container["env"] = [*env, {"name": MODEL_VERSION_ENV, "value": version}]
    return pinned


def traffic_summary(service: str, traffic: list[dict[str, Any]]) -> str:
    """`v3=90 v4=10` for printer columns; other revision names are shown whole."""
    prefix = f"{service}-"
    parts = []
    for entry in traffic:
        name = entry.get("revisionName") or ("latest" if entry.get("latestRevision") else "?")
        parts.append(f"{name.removeprefix(prefix)}={entry.get('percent', 0)}")
    return " ".join(parts)


def split_traffic(champion: str, challenger: str | None, challenger_percent: int) -> list[dict[str, Any]]:
    """Integer percents summing to 100: the champion gets what the challenger does not."""
    if challenger is None or challenger_percent <= 0:
        return [{"revisionName": champion, "percent": 100, "tag": CHAMPION_TAG}]
    percent = min(max(int(challenger_percent), 0), 100)
    return [
        {"revisionName": champion, "percent": 100 - percent, "tag": CHAMPION_TAG},
        {"revisionName": challenger, "percent": percent, "tag": CHALLENGER_TAG},
    ]


def _normalised(traffic: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    keys = ("revisionName", "percent", "tag", "latestRevision")
    return [{key: entry[key] for key in keys if entry.get(key) is not None} for entry in traffic or []]


def set_condition(
    conditions: list[dict[str, Any]], kind: str, state: str, reason: str, message: str, now: datetime
) -> list[dict[str, Any]]:
    """Conditions with `kind` replaced; its lastTransitionTime moves only when its status changes."""
    previous = next((c for c in conditions if c.get("type") == kind), None)
    since = previous["lastTransitionTime"] if previous and previous.get("status") == state else timestamp(now)
    entry = {"type": kind, "status": state, "reason": reason, "message": message, "lastTransitionTime": since}
    return [*(c for c in conditions if c.get("type") != kind), entry]


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions", []) if c.get("type") == kind), None)


def _rollout_step(
    world: World, wanted: list[tuple[str, str, str]], status: dict[str, Any]
) -> tuple[tuple[str, str, str] | None, list[dict[str, Any]]]:
    """The wanted revision to roll the template to now (or None), and new rejections (deadline)."""
    for role, version, revision in wanted:
        readiness = world.revisions.get(revision, Readiness.MISSING)
        if readiness is Readiness.READY:
            continue
        rollout = status.get("rollout") or {}
        if rollout.get("revision") != revision:
            return (role, version, revision), []
        waited = (world.now - parse_time(rollout["since"])).total_seconds()
        if waited > world.spec.progress_deadline_s:
            message = (
                f"revision {revision} not Ready after {waited:.0f}s "
                f"(progressDeadline {world.spec.progress_deadline_s:g}s, last seen {readiness.value})"
            )
            rejection = {
                "version": version,
                "role": role,
                "cause": DEADLINE_EXCEEDED,
                "message": message,
                "generation": world.generation,
            }
            return None, [rejection]
        return None, []  # rolled already: wait for Knative
    return None, []


def _challenger_state(world: World, revision: str, version: str, ready: bool) -> dict[str, Any]:
    previous = world.status.get("challenger") or {}
    schedule = world.spec.challenger.schedule
    same = previous.get("version") == version and previous.get("revision") == revision
    step = min(int(previous.get("step", 0)), len(schedule) - 1) if same else 0
    state: dict[str, Any] = {
        "version": version,
        "revision": revision,
        "step": step,
        "percent": schedule[step] if ready else 0,
    }
    if ready:
        state["lastStepTime"] = (
            previous.get("lastStepTime") if same and previous.get("lastStepTime") else (timestamp(world.now))
        )
    return state


def reconcile(world: World) -> Plan:
    spec, old = world.spec, world.status
    status: dict[str, Any] = copy.deepcopy(old)
    status["observedGeneration"] = world.generation
    # rejections hold only until the spec changes
    status["rejected"] = [entry for entry in old.get("rejected", []) if entry.get("generation") == world.generation]
    if len(status["rejected"]) < len(old.get("rejected", [])):
        status.pop("rollout", None)  # a retried version gets a fresh deadline
    events: list[Event] = []
    conditions = list(old.get("conditions", []))

    if spec.suspend:
        return _finish(world, status, conditions, "Suspended", "spec.suspend is true: nothing is changed", None, events)

    if world.champion_version is None:
        return _finish(
            world,
            status,
            conditions,
            "Failed",
            world.registry_message or "no champion version",
            None,
            events,
            failure=("UnknownVersion", world.registry_message),
        )

    wanted = wanted_revisions(world)
    roll_to, rejections = _rollout_step(world, wanted, status)
    for rejection in rejections:
        status["rejected"].append(rejection)
        events.append(Event("Warning", DEADLINE_EXCEEDED, rejection["message"]))
    if rejections:
        wanted = wanted_revisions(World(**{**world.__dict__, "status": status}))
        roll_to, _ = _rollout_step(world, wanted, status)

    def ready(revision: str) -> bool:
        return world.revisions.get(revision) is Readiness.READY

    champion = next(((v, r) for role, v, r in wanted if role == "champion"), None)
    challenger = next(((v, r) for role, v, r in wanted if role == "challenger"), None)

    # The champion entry moves only to a Ready revision; until then the one serving keeps serving.
    serving = old.get("champion") or {}
    if champion and ready(champion[1]):
        status["champion"] = {"version": champion[0], "revision": champion[1]}
    elif serving:
        status["champion"] = serving
    if challenger:
        status["challenger"] = _challenger_state(world, challenger[1], challenger[0], ready(challenger[1]))
    else:
        status.pop("challenger", None)
    arrived = (status.get("challenger") or {}).get("version")
    if arrived and arrived != (old.get("challenger") or {}).get("version"):
        status["failedChecks"] = 0
        status.pop("lastAnalysis", None)

    patch: dict[str, Any] = {}
    current_traffic = _normalised(world.service.get("spec", {}).get("traffic"))
    serving_champion = (status.get("champion") or {}).get("revision")
    if serving_champion:
        state = status.get("challenger") or {}
        traffic = split_traffic(
            serving_champion, state.get("revision") if state.get("percent") else None, int(state.get("percent", 0))
        )
        if traffic != current_traffic:
            patch["traffic"] = traffic
            events.append(Event("Normal", "TrafficShifted", traffic_summary(spec.service, traffic)))
        status["traffic"] = traffic
    else:
        status["traffic"] = current_traffic
    status["trafficSummary"] = traffic_summary(spec.service, status["traffic"])

    template = world.service.get("spec", {}).get("template", {})
    if roll_to is not None:
        role, version, revision = roll_to
        if template.get("metadata", {}).get("name") != revision:
            patch["template"] = pinned_template(template, revision, version)
            events.append(Event("Normal", "RevisionRequested", f"{role} version {version} → revision {revision}"))
        if (status.get("rollout") or {}).get("revision") != revision:
            status["rollout"] = {"revision": revision, "since": timestamp(world.now)}

    service_patch = {"spec": patch} if patch else None
    phase, message = _phase(world, status, wanted)
    return _finish(world, status, conditions, phase, message, service_patch, events)


def _phase(world: World, status: dict[str, Any], wanted: list[tuple[str, str, str]]) -> tuple[str, str]:
    for entry in status["rejected"]:
        if entry["role"] == "champion" or entry["cause"] == DEADLINE_EXCEEDED:
            return "Failed", entry["message"]
    for entry in status["rejected"]:
        return "RolledBack", f"challenger version {entry['version']} rolled back: {entry['message']}"
    pending = [revision for _, _, revision in wanted if world.revisions.get(revision) is not Readiness.READY]
    if pending:
        return "Progressing", f"waiting for revision {pending[0]} to be Ready"
    challenger = status.get("challenger")
    schedule = world.spec.challenger.schedule
    if challenger and challenger.get("step", 0) < len(schedule) - 1:
        return "Progressing", f"challenger at {challenger['percent']}% of {schedule[-1]}%"
    return "Ready", "traffic is where the spec wants it"


def _finish(
    world: World,
    status: dict[str, Any],
    conditions: list[dict[str, Any]],
    phase: str,
    message: str,
    service_patch: dict[str, Any] | None,
    events: list[Event],
    failure: tuple[str, str] | None = None,
) -> Plan:
    now, old = world.now, world.status
    conditions = set_condition(conditions, "RegistryReachable", "True", "Answered", "MLflow answered", now)
    pending = (
        phase == "Progressing"
        and status.get("rollout")
        and world.revisions.get(status["rollout"]["revision"]) is not Readiness.READY
    )
    deadline = next((e for e in status.get("rejected", []) if e["cause"] == DEADLINE_EXCEEDED), None)
    if deadline:
        conditions = set_condition(conditions, "RevisionsReady", "False", DEADLINE_EXCEEDED, deadline["message"], now)
    elif pending:
        conditions = set_condition(conditions, "RevisionsReady", "False", "RevisionNotReady", message, now)
    elif phase in ("Ready", "Progressing", "RolledBack"):
        conditions = set_condition(conditions, "RevisionsReady", "True", "Ready", "every wanted revision is Ready", now)
    conditions = _analysis_condition(status, conditions, now)
    status["conditions"] = conditions
    status["message"] = message
    if phase != old.get("phase"):
        status["lastTransitionTime"] = timestamp(now)
        if failure:
            events.append(Event("Warning", failure[0], failure[1]))
        if phase == ROLLED_BACK:
            events.append(Event("Warning", ROLLED_BACK, message))
    status["phase"] = phase
    return Plan(service_patch, status, events)


def _analysis_condition(
    status: dict[str, Any], conditions: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    rolled_back = next((e for e in status.get("rejected", []) if e["cause"] == ROLLED_BACK), None)
    last = status.get("lastAnalysis") or {}
    if rolled_back:
        return set_condition(conditions, "AnalysisHealthy", "False", ROLLED_BACK, rolled_back["message"], now)
    if not status.get("challenger"):
        return set_condition(conditions, "AnalysisHealthy", "Unknown", "NoChallenger", "no challenger to analyse", now)
    result = last.get("result")
    if result == "Healthy":
        return set_condition(conditions, "AnalysisHealthy", "True", "Healthy", last.get("message", ""), now)
    if result == "Failed":
        return set_condition(conditions, "AnalysisHealthy", "False", "FailedChecks", last.get("message", ""), now)
    reason = "Inconclusive" if result == "Inconclusive" else "NotAnalysedYet"
    return set_condition(conditions, "AnalysisHealthy", "Unknown", reason, last.get("message", ""), now)


def registry_unreachable(status: dict[str, Any], message: str, now: datetime) -> dict[str, Any]:
    """The status with RegistryReachable=False; nothing else changes while MLflow is away."""
    conditions = set_condition(
        list(status.get("conditions", [])), "RegistryReachable", "False", "Unreachable", message, now
    )
    return {**status, "conditions": conditions}


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 merge patch turning `old` into `new` (None where a key goes away); {} when equal."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value) if isinstance(value, dict) else value
    return patch
