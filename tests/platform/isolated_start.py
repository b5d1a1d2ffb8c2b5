"""Run a console script as if only some distributions were installed (tests/platform/test_deployment_images.py).

    python -m tests.platform.isolated_start ALLOWED_MODULES_FILE COMMAND [ARGS...]

ALLOWED_MODULES_FILE lists, one a line, the top-level modules an image would have (its requirement
set's distributions, the project's packages). Any other top-level import fails with the
ModuleNotFoundError a container built from that image would raise, the standard library excepted.
COMMAND is a console script (uvicorn, ...) started through its entry point
after the guard is in place, so the check covers everything the process imports while it serves.
Standard library only: it runs before anything else is imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# where the interpreter's own modules live (some, like _sysconfigdata_*, are not in stdlib_module_names)
STDLIB_DIRS = sorted({sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")})
STDLIB_DIRS += [str(Path(directory) / "lib-dynload") for directory in STDLIB_DIRS]


class ImageOnly(importlib.abc.MetaPathFinder):
    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed | set(sys.stdlib_module_names) | set(sys.builtin_module_names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in self.allowed or top in sys.modules:
            return None  # let the normal finders load it
        if importlib.machinery.PathFinder.find_spec(top, STDLIB_DIRS) is not None:
            self.allowed.add(top)
            return None
        raise ModuleNotFoundError(f"No module named {fullname!r} (not in this image)", name=fullname)


def main(argv: list[str]) -> None:
    allowed_file, command, *args = argv
    allowed = set(Path(allowed_file).read_text().split())
    (script,) = importlib.metadata.entry_points(group="console_scripts", name=command)
    sys.meta_path.insert(0, ImageOnly(allowed))
    entry = script.load()  # under the guard: a command whose package the image lacks fails here
    sys.argv = [command, *args]
    raise SystemExit(entry())


if __name__ == "__main__":
    main(sys.argv[1:])
