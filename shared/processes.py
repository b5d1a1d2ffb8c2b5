"""Start, wait for and stop local server processes (the runtime, the benchmarks and the test fixtures share these)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def beside_python(program: str) -> str:
    """The console script `program` of this interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).with_name(program)
    found = str(beside) if beside.is_file() else shutil.which(program)
    if found is None:
        raise FileNotFoundError(f"{program} is not installed in {Path(sys.executable).parent}")
    return found


def listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening("127.0.0.1", port, 0.2):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args!r} exited with {process.returncode} before listening")
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


def launch(args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.Popen:
    """Start `args` with its output in `log`, without waiting for anything (cold starts time from here)."""
    handle = log.open("wb")
    try:
        return subprocess.Popen(
            args, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=cwd
        )
    finally:
        handle.close()  # the child holds its own descriptor


def start_process(
    args: list[str], port: int, log: Path, env: dict[str, str] | None = None, timeout: float = 60.0, cwd: Path = REPO
) -> subprocess.Popen:
    process = launch(args, log, env, cwd)
    try:
        wait_for_port(port, process, timeout)
    except Exception:
        stop_process(process)
        raise RuntimeError(f"{args[0]} did not start; its log:\n{log.read_text(errors='replace')[-3000:]}") from None
    return process


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def python_bin(name: str) -> str:
    """A console script of the running interpreter's virtualenv."""
    return str(Path(sys.executable).with_name(name))
