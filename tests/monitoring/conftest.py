"""What the real-Prometheus test proved and what it could only check for syntax, in pytest's summary.

Queries over Kubernetes, Knative (the scale-to-zero functions' instances and activator), RabbitMQ's
plugin, node and Argo metrics have no series outside a cluster; the issue asks for them to be listed
in the test output, so the list is printed after every run of the test, not only with `pytest -s`.
"""

from __future__ import annotations

import pytest

_LINES = pytest.StashKey[list[str]]()


@pytest.fixture
def summary_lines(request: pytest.FixtureRequest) -> list[str]:
    """Lines for the terminal summary's Prometheus section."""
    return request.config.stash.setdefault(_LINES, [])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(_LINES, [])
    if lines:
        terminalreporter.section("dashboard queries and alert expressions against a real Prometheus")
        for line in lines:
            terminalreporter.write_line(line)
