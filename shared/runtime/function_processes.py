"""Event functions as their own uvicorn processes, as Knative runs each Service."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from shared.config import get_settings
from shared.function_spec import FunctionSpec
from shared.processes import REPO, beside_python, free_port, listening

log = logging.getLogger("time2bet.runtime.processes")

LOOPBACK = "127.0.0.1"
START_TIMEOUT_SECONDS = 60.0
# Functions are stopped after the dispatcher drained, so nothing is in flight; the ML functions' interpreter
# exit alone takes ~5 s, which a local stop need not wait for.
STOP_TIMEOUT_SECONDS = 3.0


class FunctionStartError(RuntimeError):
    """An event function process exited or did not listen in time."""


@dataclass(frozen=True)
class FunctionProcess:
    spec: FunctionSpec
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    # The children may run from another directory: hand them the data directory this process resolved.
    return {**os.environ, "T2B_DATA_DIR": str(get_settings().data_dir.resolve()), **extra}


def start_function(spec: FunctionSpec, port: int, environment: Mapping[str, str] | None = None) -> FunctionProcess:
    """One function's process; `environment` adds to (or overrides) this process's own."""
    program, *args = spec.launch_command(LOOPBACK, port, source_root=str(REPO))
    try:
        args.insert(0, beside_python(program))
    except FileNotFoundError as exc:
        raise FunctionStartError(f"{exc} (requirements/events.txt)") from None
    # Its own session: Ctrl-C reaches only this process, which stops the functions after the dispatcher.
    process = subprocess.Popen(args, env=_environment(environment or {}), start_new_session=True)
    return FunctionProcess(spec, port, process)


def start_functions(
    specs: Iterable[FunctionSpec],
    timeout: float = START_TIMEOUT_SECONDS,
    environment: Callable[[FunctionSpec], Mapping[str, str]] | None = None,
) -> list[FunctionProcess]:
    """Start every function at once (imports dominate start-up), then wait until each listens."""
    started = [start_function(spec, free_port(), environment(spec) if environment else None) for spec in specs]
    try:
        _wait_until_listening(started, timeout)
    except FunctionStartError:
        stop_functions(started)
        raise
    return started


def _wait_until_listening(started: list[FunctionProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(started)
    while waiting:
        for function in list(waiting):
            if function.process.poll() is not None:
                raise FunctionStartError(f"{function.spec.name} exited with {function.process.returncode}")
            if listening(LOOPBACK, function.port):
                log.info("%s listens on %s", function.spec.name, function.url)
                waiting.remove(function)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(function.spec.name for function in waiting)
            raise FunctionStartError(f"{names} did not listen within {timeout:.0f} s")
        time.sleep(0.1)


def stop_functions(started: Iterable[FunctionProcess], timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """SIGTERM all (uvicorn finishes the requests in flight), then kill whatever outlives the timeout."""
    running = [function for function in started if function.process.poll() is None]
    for function in running:
        os.killpg(function.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for function in running:
        try:
            function.process.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            log.info("%s still exiting after %.0f s: killed", function.spec.name, timeout)
            os.killpg(function.process.pid, signal.SIGKILL)
            function.process.wait()


def service_urls(started: Iterable[FunctionProcess]) -> Mapping[str, str]:
    return {function.spec.name: function.url for function in started}
