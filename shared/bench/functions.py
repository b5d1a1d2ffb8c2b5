"""The HTTP functions as separate uvicorn processes, as Knative runs them: cold starts and resident memory."""

from __future__ import annotations

import importlib
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from shared.processes import REPO, free_port, launch, listening, start_process, stop_process

PREDICT_APP = "functions.predict.main:app"
# Fresh interpreters import these to show what a cold start spends its time on.
IMPORT_PROFILE = ("fastapi", "functions.predict.main", "lightgbm", "sklearn", "mlflow", "shared.ml.registry")


def uvicorn_args(app: str, port: int) -> list[str]:
    """The function's own launch command (its SPEC's), on loopback; no access log: the container as
    deployed, minus log I/O on the hot path."""
    spec = importlib.import_module(app.split(":")[0]).SPEC
    return [sys.executable, "-m", *spec.launch_command("127.0.0.1", port), "--log-level", "warning", "--no-access-log"]


def start_function(app: str, logs: Path) -> tuple[subprocess.Popen, str]:
    """A function alone on a free port; returns the process and its base URL."""
    port = free_port()
    name = app.split(".")[1]
    process = start_process(uvicorn_args(app, port), port, logs / f"{name}-{port}.log")
    return process, f"http://127.0.0.1:{port}"


@dataclass(frozen=True)
class ColdStart:
    until_listening_s: float
    until_first_200_s: float


@dataclass(frozen=True)
class ColdStarts:
    runs: list[ColdStart]

    @property
    def median_s(self) -> float:
        return statistics.median(run.until_first_200_s for run in self.runs)

    @property
    def max_s(self) -> float:
        return max(run.until_first_200_s for run in self.runs)

    @property
    def median_listening_s(self) -> float:
        return statistics.median(run.until_listening_s for run in self.runs)


def cold_start(
    body: dict[str, Any], logs: Path, environment: dict[str, str] | None = None, timeout_s: float = 60.0
) -> ColdStart:
    """Exec of uvicorn -> first 200 of POST /predict, the champion's load included; `environment` adds to
    this process's (MLFLOW_TRACKING_URI of a tracking server, say).

    The port is polled with bare connects: building an HTTP client per attempt costs enough CPU
    to slow the server being timed (it doubled the figure on two cores). The one client that asks is
    built before the clock starts, as a caller's would already be.
    """
    port = free_port()
    client = httpx.Client(timeout=timeout_s)
    started = time.perf_counter()
    process = launch(uvicorn_args(PREDICT_APP, port), logs / f"cold-start-{port}.log", environment)
    try:
        deadline = time.monotonic() + timeout_s
        while not listening("127.0.0.1", port, 0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"predict did not listen; see {logs / f'cold-start-{port}.log'}")
            time.sleep(0.005)
        until_listening = time.perf_counter() - started
        response = client.post(f"http://127.0.0.1:{port}/predict", json=body)
        until_200 = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"cold POST /predict answered {response.status_code}: {response.text[:300]}")
        return ColdStart(until_listening, until_200)
    finally:
        client.close()
        stop_process(process)


def import_seconds(module: str) -> float:
    """Import time of `module` in a fresh interpreter, as a cold container pays it."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    return float(completed.stdout.strip().splitlines()[-1])


Call = tuple[str, str, dict[str, Any] | None]  # method, path, JSON body


def route_calls(
    app: Any, routes: list[str], path_values: dict[str, str], bodies: dict[str, dict[str, Any]]
) -> list[Call]:
    """One request per declared route: GET where the route allows it, else POST with the route's example body.

    A path parameter or body without an example gets "1" or {}: a 404 or 422 still loads the function's code.
    """
    methods_by_path = {path: {m.upper() for m in item} for path, item in app.openapi()["paths"].items()}
    calls: list[Call] = []
    for route in routes:
        path = re.sub(r"\{(\w+)\}", lambda match: path_values.get(match.group(1), "1"), route)
        if "GET" in methods_by_path.get(route, {"GET"}):
            calls.append(("GET", path, None))
        else:
            calls.append(("POST", path, bodies.get(route, {})))
    return calls


@dataclass(frozen=True)
class FunctionMemory:
    function: str
    requests: list[str]  # "GET /stats -> 200", or why the function did not start
    rss_mb: float | None


def function_memory(module: str, name: str, calls: list[Call], logs: Path) -> FunctionMemory:
    """RSS of one function's process after it answered one request per route (its lazy loads done).

    A function that does not start or answer is reported, not fatal: other engineers' functions may be
    mid-change, and a first request may outlast the timeout on a loaded machine.
    """
    try:
        process, base = start_function(f"{module}:app", logs)
    except RuntimeError as exc:
        return FunctionMemory(name, [f"did not start: {str(exc).splitlines()[0]}"], None)
    try:
        answered = []
        with httpx.Client(base_url=base, timeout=60) as client:
            for method, path, body in calls:
                try:
                    response = client.request(method, path, json=body)
                except httpx.HTTPError as exc:  # e.g. a slow first request on a loaded machine: say so, go on
                    answered.append(f"{method} {path} -> {type(exc).__name__}")
                else:
                    answered.append(f"{method} {path} -> {response.status_code}")
        rss = psutil.Process(process.pid).memory_info().rss
        return FunctionMemory(name, answered, rss / 2**20)
    finally:
        stop_process(process)
