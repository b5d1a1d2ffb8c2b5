"""The reconcile decisions as pure functions (shared/operator/plan.py, analysis.py, spec.py): no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.operator.analysis import FAILED, HEALTHY, INCONCLUSIVE, Verdict, analysis_due, apply_verdict, judge, render
from shared.operator.plan import Readiness, World, merge_patch, reconcile, registry_unreachable, split_traffic
from shared.operator.spec import BindingSpec, InvalidSpec, seconds

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SERVICE = {"spec": {"template": {"spec": {"containers": [{"image": "ml", "env": [{"name": "A", "value": "1"}]}]}}}}


def spec(**overrides: Any) -> BindingSpec:
    return BindingSpec.parse({"model": "outcome", "service": "predict", **overrides})


def world(
    status: dict | None = None,
    service: dict | None = None,
    now: datetime = NOW,
    generation: int = 1,
    champion_version: str | None = "3",
    challenger_version: str | None = None,
    revisions: dict | None = None,
    **spec_overrides: Any,
) -> World:
    return World(
        spec=spec(**spec_overrides),
        generation=generation,
        now=now,
        status=status or {},
        service=service or SERVICE,
        champion_version=champion_version,
        challenger_version=challenger_version,
        revisions=revisions or {},
        registry_message="" if champion_version else "model has no version 99",
    )


def applied(service: dict, patch: dict | None) -> dict:
    """The Service after a merge patch whose spec keys replace (template, traffic)."""
    return {**service, "spec": {**service["spec"], **(patch or {}).get("spec", {})}}


def test_durations_and_spec_defaults() -> None:
    assert seconds("250ms") == 0.25 and seconds("5m") == 300 and seconds("1h") == 3600
    with pytest.raises(InvalidSpec):
        seconds("5 minutes")
    with pytest.raises(InvalidSpec, match=r"spec\.service is required"):
        BindingSpec.parse({"model": "m"})
    parsed = spec(challenger={"percent": 25, "steps": [50, 5, 10, 10]})
    assert parsed.challenger.schedule == (5, 10, 25)  # sorted, deduplicated, capped by percent
    assert spec().challenger.schedule == ()


def test_first_pass_rolls_the_template_to_a_pinned_revision_and_leaves_traffic_alone() -> None:
    plan = reconcile(world())
    template = plan.service_patch["spec"]["template"]
    assert template["metadata"]["name"] == "predict-v3"
    assert template["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "MODEL_VERSION", "value": "3"},
    ]
    assert "traffic" not in plan.service_patch["spec"]  # nothing Ready yet: Knative's default route stays
    assert plan.status["phase"] == "Progressing"
    assert plan.status["rollout"] == {"revision": "predict-v3", "since": "2026-12-02T12:00:00Z"}


def test_once_ready_the_champion_gets_all_traffic_and_a_second_pass_changes_nothing() -> None:
    first = reconcile(world())
    service = applied(SERVICE, first.service_patch)
    ready = {"predict-v3": Readiness.READY}
    second = reconcile(world(first.status, service, revisions=ready))
    assert second.service_patch == {
        "spec": {"traffic": [{"revisionName": "predict-v3", "percent": 100, "tag": "champion"}]}
    }
    assert second.status["phase"] == "Ready"
    third = reconcile(world(second.status, applied(service, second.service_patch), revisions=ready))
    assert third.service_patch is None and third.events == []  # idempotent: a restart changes nothing
    assert merge_patch(second.status, third.status) == {}


def test_challenger_split_is_integer_and_sums_to_100() -> None:
    for percent in range(0, 51):
        traffic = split_traffic("predict-v3", "predict-v4", percent)
        assert sum(entry["percent"] for entry in traffic) == 100
        assert all(isinstance(entry["percent"], int) for entry in traffic)
    assert split_traffic("predict-v3", "predict-v4", 10)[1] == {
        "revisionName": "predict-v4",
        "percent": 10,
        "tag": "challenger",
    }


def ready_champion_world(**kwargs: Any) -> tuple[World, dict]:
    status = {"champion": {"version": "3", "revision": "predict-v3"}}
    service = {"spec": {**SERVICE["spec"], "traffic": split_traffic("predict-v3", None, 0)}}
    service["spec"]["template"] = {**SERVICE["spec"]["template"], "metadata": {"name": "predict-v3"}}
    return world(status, service, **kwargs), service


def test_a_challenger_gets_traffic_only_once_ready_then_its_first_step() -> None:
    challenger = {"percent": 30, "steps": [10, 20]}
    pending, _ = ready_champion_world(
        challenger=challenger, challenger_version="4", revisions={"predict-v3": Readiness.READY}
    )
    plan = reconcile(World(**{**pending.__dict__, "challenger_version": "4"}))
    assert plan.service_patch["spec"]["template"]["metadata"]["name"] == "predict-v4"
    assert "traffic" not in plan.service_patch["spec"]
    ready = World(
        **{
            **pending.__dict__,
            "challenger_version": "4",
            "status": plan.status,
            "revisions": {"predict-v3": Readiness.READY, "predict-v4": Readiness.READY},
        }
    )
    plan = reconcile(ready)
    assert plan.service_patch["spec"]["traffic"] == split_traffic("predict-v3", "predict-v4", 10)
    assert plan.status["challenger"]["percent"] == 10 and plan.status["phase"] == "Progressing"


def test_champion_never_ready_within_the_deadline_fails_and_keeps_traffic() -> None:
    base, service = ready_champion_world(champion_version="4", progressDeadline="60s")
    first = reconcile(base)
    assert first.service_patch["spec"]["template"]["metadata"]["name"] == "predict-v4"
    later = World(
        **{
            **base.__dict__,
            "status": first.status,
            "now": NOW + timedelta(seconds=61),
            "service": applied(service, first.service_patch),
            "revisions": {"predict-v4": Readiness.PENDING},
        }
    )
    plan = reconcile(later)
    assert plan.status["phase"] == "Failed"
    assert plan.service_patch is None  # champion traffic untouched
    assert plan.status["champion"] == {"version": "3", "revision": "predict-v3"}
    assert [e.reason for e in plan.events] == ["ProgressDeadlineExceeded"]
    again = reconcile(World(**{**later.__dict__, "status": plan.status, "now": NOW + timedelta(seconds=120)}))
    assert again.service_patch is None and again.events == []  # the same version is not retried
    new_generation = reconcile(World(**{**later.__dict__, "status": plan.status, "generation": 2}))
    assert new_generation.status["phase"] == "Progressing"  # a spec change retries


def test_unknown_version_fails_with_one_event_and_no_patch() -> None:
    base, _ = ready_champion_world(champion_version=None)
    plan = reconcile(base)
    assert plan.service_patch is None and plan.status["phase"] == "Failed"
    assert [e.reason for e in plan.events] == ["UnknownVersion"]
    assert reconcile(World(**{**base.__dict__, "status": plan.status})).events == []


def test_suspended_binding_patches_nothing() -> None:
    plan = reconcile(world(suspend=True))
    assert plan.service_patch is None and plan.status["phase"] == "Suspended"


def test_registry_unreachable_condition_keeps_its_transition_time_while_it_lasts() -> None:
    status = registry_unreachable({}, "MLflow down", NOW)
    again = registry_unreachable(status, "MLflow down", NOW + timedelta(seconds=30))
    condition = again["conditions"][0]
    assert condition["status"] == "False" and condition["lastTransitionTime"] == "2026-12-02T12:00:00Z"


def serving_challenger(step: int = 0, failed: int = 0) -> dict:
    return {
        "challenger": {
            "version": "4",
            "revision": "predict-v4",
            "step": step,
            "percent": (10, 20, 30)[step],
            "lastStepTime": "2026-12-02T11:59:00Z",
        },
        "failedChecks": failed,
    }


def test_analysis_verdicts() -> None:
    analysis = spec(analysis={"maxErrorRatio": 0.05, "maxP99Latency": "500ms"}).analysis
    assert judge(analysis, 0.01, 200).result == HEALTHY
    failed = judge(analysis, 0.2, 900)
    assert failed.result == FAILED and "error ratio" in failed.message and "p99 latency 900ms" in failed.message
    assert judge(analysis, None, 200).result == INCONCLUSIVE
    query = render('rate(x{revision_name="$revision",namespace_name="$namespace"}[$window])', "ns", "predict-v4", 60)
    assert query == 'rate(x{revision_name="predict-v4",namespace_name="ns"}[60s])'


def test_failures_in_a_row_roll_back_inconclusive_counts_for_nothing_healthy_steps_up() -> None:
    parsed = spec(challenger={"percent": 30, "steps": [10, 20], "interval": "30s"}, analysis={"failureThreshold": 2})
    status, rejection = apply_verdict(parsed, serving_challenger(), Verdict(FAILED, "bad"), 1, NOW)
    assert status["failedChecks"] == 1 and rejection is None
    status, rejection = apply_verdict(parsed, status, Verdict(INCONCLUSIVE, "down"), 1, NOW)
    assert status["failedChecks"] == 1 and rejection is None
    status, rejection = apply_verdict(parsed, status, Verdict(FAILED, "bad"), 1, NOW)
    assert rejection is not None and rejection["version"] == "4" and rejection["cause"] == "RolledBack"
    healthy, _ = apply_verdict(parsed, serving_challenger(failed=1), Verdict(HEALTHY, "ok"), 1, NOW)
    assert healthy["failedChecks"] == 0 and healthy["challenger"]["percent"] == 20


def test_a_rolled_back_challenger_loses_its_traffic_and_the_phase_says_so() -> None:
    parsed_status, _ = apply_verdict(
        spec(challenger={"percent": 10}, analysis={"failureThreshold": 1}),
        serving_challenger(),
        Verdict(FAILED, "error ratio 0.3 > 0.05"),
        1,
        NOW,
    )
    base, service = ready_champion_world(
        challenger={"percent": 10},
        challenger_version="4",
        revisions={"predict-v3": Readiness.READY, "predict-v4": Readiness.READY},
    )
    service["spec"]["traffic"] = split_traffic("predict-v3", "predict-v4", 10)
    plan = reconcile(
        World(
            **{
                **base.__dict__,
                "challenger_version": "4",
                "service": service,
                "status": {**parsed_status, "champion": {"version": "3", "revision": "predict-v3"}},
            }
        )
    )
    assert plan.service_patch == {"spec": {"traffic": split_traffic("predict-v3", None, 0)}}
    assert plan.status["phase"] == "RolledBack"
    assert {c["type"]: c["status"] for c in plan.status["conditions"]}["AnalysisHealthy"] == "False"
    assert "RolledBack" in [e.reason for e in plan.events]


def test_analysis_due_only_while_a_challenger_has_traffic() -> None:
    parsed = spec(analysis={"interval": "1m"})
    assert not analysis_due(parsed, {}, NOW)
    assert analysis_due(parsed, serving_challenger(), NOW)
    recent = {**serving_challenger(), "lastAnalysis": {"time": "2026-12-02T11:59:30Z"}}
    assert not analysis_due(parsed, recent, NOW)
