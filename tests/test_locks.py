"""Every requirement set is locked with hashes, and each lock matches the set it was compiled from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.services import REPO

REQUIREMENTS = REPO / "requirements"
LOCKS = REQUIREMENTS / "locks"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def direct_pins(path: Path) -> dict[str, str]:
    """name → version of every pin in a requirements file, following its `-r` includes."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            pins.update(direct_pins(path.parent / line[3:].strip()))
        elif match := PIN.match(line):
            pins[_name(match[1])] = match[3]
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of every package in a lock."""
    packages: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            current = _name(match[1])
            packages[current] = (match[3], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = packages[current]
            packages[current] = (version, hashes + 1)
    return packages


SETS = sorted(path.name for path in REQUIREMENTS.glob("*.txt"))


@pytest.mark.parametrize("name", SETS)
def test_each_set_has_a_lock_that_matches_it(name: str) -> None:
    lock = LOCKS / name
    assert lock.is_file(), f"{lock} is missing: run requirements/lock"
    packages = locked(lock)
    drifted = {
        pkg: (version, packages.get(pkg, ("absent", 0))[0])
        for pkg, version in direct_pins(REQUIREMENTS / name).items()
        if packages.get(pkg, ("absent", 0))[0] != version
    }
    assert not drifted, f"{lock} does not match {name} (pin, locked): {drifted}; run requirements/lock"
    unhashed = [pkg for pkg, (_, hashes) in packages.items() if hashes == 0]
    assert not unhashed, f"{lock} has packages without hashes: {unhashed}"


def test_the_readme_installs_from_hash_checked_locks() -> None:
    readme = (REPO / "README.md").read_text()
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        command = readme.split(marker, 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
        assert "--require-hashes -r requirements/locks/" in command, command
