"""Helpers the test fixtures use to find, or start, the real services the suite talks to."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_KIT = REPO.parent / "shared"  # the team's reference kit: real data and upstream schemas


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(condition: bool, reason: str) -> None:
    """In CI a missing service fails the run; on a developer machine the test is skipped."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


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


def start_process(
    args: list[str], port: int, log: Path, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.Popen:
    handle = log.open("wb")
    process = subprocess.Popen(
        args, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=REPO
    )
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
    return str(Path(sys.executable).with_name(name))
