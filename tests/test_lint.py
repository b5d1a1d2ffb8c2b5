"""The codebase stays ruff-clean and ruff-formatted (pyproject.toml holds the rules)."""

from __future__ import annotations

import subprocess

from tests.services import REPO, python_bin


def test_ruff_check_is_clean() -> None:
    result = subprocess.run([python_bin("ruff"), "check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:]


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [python_bin("ruff"), "format", "--check", "--no-cache", "."], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:]
