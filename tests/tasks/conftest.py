"""Each task function runs as its own process, as Knative runs it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cloudevents.http import CloudEvent

from shared.events.http import to_binary, to_structured
from tests.services import free_port, function_command, start_process, stop_process

StartFunction = Callable[[str, dict[str, str]], str]


@pytest.fixture
def start_function(tmp_path: Path) -> Iterator[StartFunction]:
    """`start_function("cache_ops", env)` → the base URL of functions/cache_ops/main.py:handle."""
    processes = []

    def start(package: str, env: dict[str, str]) -> str:
        port = free_port()
        environment = {"T2B_DATA_DIR": str(tmp_path / "var"), **env}
        processes.append(
            start_process(function_command(package, port), port, tmp_path / f"{package}-{port}.log", environment)
        )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        stop_process(process)


def post_event(url: str, event: CloudEvent, mode: str = "binary", timeout: float = 30.0) -> httpx.Response:
    headers, body = (to_binary if mode == "binary" else to_structured)(event)
    return httpx.post(url + "/", headers=headers, content=body, timeout=timeout)
