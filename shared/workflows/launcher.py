"""Local step processes for `t2b` containers, forked from a server that imported the CLI once.

A `t2b` process spends seconds importing its command modules (pandas, LightGBM, MLflow, SQLAlchemy)
before it does anything. A step is still its own process with its own environment, working directory,
output and exit code, run by the same entry point as the `t2b` script (`shared.cli.app.run`); it is
forked from a multiprocessing fork server that paid that import once per run. The fork server is a
fresh single-threaded interpreter, so forking it is safe whatever threads the runner has.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

CLI_MODULE = "shared.cli.app"
_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload([CLI_MODULE])


class Process(Protocol):
    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None when still running after `timeout` seconds."""

    def kill(self) -> None: ...


def start(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Process:
    """`t2b ...` from the fork server; any other command as a plain child process."""
    if argv[0] == "t2b":
        return StepProcess(argv[1:], env, cwd, log)
    executable = shutil.which(argv[0])
    if executable is None:
        raise FileNotFoundError(f"{argv[0]}: not found on PATH")
    return PlainProcess([executable, *argv[1:]], env, cwd, log)


class PlainProcess:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        with log.open("ab") as output:
            self._process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)

    def wait(self, timeout: float | None) -> int | None:
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()


class StepProcess:
    """A started `t2b ARGS` child of the fork server."""

    def __init__(self, arguments: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self._process = _context.Process(target=_run, args=(arguments, env, str(cwd), str(log)), daemon=False)
        self._process.start()

    def wait(self, timeout: float | None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode

    def kill(self) -> None:
        self._process.kill()
        self._process.join()


def _run(arguments: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In the child: the step's environment, directory and log as stdout/stderr, then `t2b ARGS`."""
    output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    code = 1
    try:
        from shared.cli.app import run

        code = run(arguments)  # settings are read from the step's environment (os.environ, set above)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
