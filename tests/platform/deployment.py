"""Builds the kustomize overlays offline and walks what they deploy (for tests/platform/test_deployment*.py).

The overlays read git-ignored secrets/<name>.env files; a build here copies knative/ to a temporary
folder and fills each from its committed .env.example (placeholder values), as a person would.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.services import REPO

KNATIVE = REPO / "knative"
OVERLAYS = sorted(path.parent.name for path in (KNATIVE / "overlays").glob("*/kustomization.yaml"))
# kinds whose pod template runs long-lived containers (probes apply); Jobs run to completion
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet"}


def build(overlay: str, workdir: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` of one overlay, every object as a dict."""
    copy = workdir / "knative"
    if not copy.exists():
        shutil.copytree(KNATIVE, copy, ignore=shutil.ignore_patterns("*.env"))  # a developer's real secrets stay
        for example in copy.rglob("*.env.example"):
            shutil.copyfile(example, example.with_suffix(""))
    result = subprocess.run(
        ["kubectl", "kustomize", str(copy / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {overlay}: {result.stderr.strip()}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def key(document: dict[str, Any]) -> tuple[str, str, str]:
    metadata = document["metadata"]
    return document["kind"], metadata.get("namespace", ""), metadata["name"]


@dataclass(frozen=True)
class Pod:
    """The pod spec of a workload or a Knative Service, with where it came from."""

    owner: dict[str, Any]
    spec: dict[str, Any]

    @property
    def where(self) -> str:
        kind, namespace, name = key(self.owner)
        return f"{kind} {namespace}/{name}"

    @property
    def namespace(self) -> str:
        return self.owner["metadata"].get("namespace", "")

    @property
    def long_running(self) -> bool:
        return self.owner["kind"] in WORKLOADS or is_knative_service(self.owner)

    def containers(self) -> list[dict[str, Any]]:
        return [*self.spec.get("initContainers", []), *self.spec.get("containers", [])]


def is_knative_service(document: dict[str, Any]) -> bool:
    return document["kind"] == "Service" and document["apiVersion"].startswith("serving.knative.dev/")


def function_services(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The Knative Services of the platform's functions (labelled time2bet.io/kind), not other Services."""
    for document in documents:
        if is_knative_service(document) and "time2bet.io/kind" in document["metadata"].get("labels", {}):
            yield document


def pods(documents: list[dict[str, Any]]) -> Iterator[Pod]:
    for document in documents:
        if document["kind"] in WORKLOADS or is_knative_service(document) or document["kind"] == "Job":
            yield Pod(document, document["spec"]["template"]["spec"])
        elif document["kind"] == "CronJob":
            yield Pod(document, document["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def tool_venv(requirements: Path) -> Path:
    """A virtualenv with one requirements file installed, cached under the temp dir by the file's hash.

    For tools whose pins conflict with the project's sets (checkov); built once per machine.
    """
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:12]
    root = Path(tempfile.gettempdir()) / "t2b-venvs" / f"{requirements.stem}-{digest}"
    root.parent.mkdir(parents=True, exist_ok=True)
    ready = root / ".installed"
    with (root.parent / f"{root.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs: one builds, the others wait and reuse
        if not ready.exists():
            shutil.rmtree(root, ignore_errors=True)
            venv.EnvBuilder(with_pip=True).create(root)
            pip = [str(root / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(requirements)]
            result = subprocess.run(pip, capture_output=True, text=True, timeout=900)
            assert result.returncode == 0, f"pip install -r {requirements.name}: {result.stderr[-2000:]}"
            ready.touch()
    return root


def python_tool(name: str) -> str:
    """A console script installed beside this interpreter (the project venv's bin/)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed: pip install -r requirements/dev.txt"
    return str(path)
