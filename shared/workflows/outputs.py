"""What `t2b workflows step` does around a step's command: optional options and output parameters.

Argo reads an output parameter from a file holding just the value, while the `t2b` commands write one
JSON file of results (the same file DVC tracks as metrics), so each output names a key of that file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shared.cli.errors import CommandError, ExitCode


@dataclass(frozen=True)
class OutputSpec:
    name: str
    json_file: Path
    key: str


def parse_output(text: str) -> OutputSpec:
    """`name=file.json:key`."""
    name, _, rest = text.partition("=")
    json_file, _, key = rest.rpartition(":")
    if not (name and json_file and key):
        raise CommandError(f"--output {text!r}: expected name=file.json:key", ExitCode.BAD_INPUT)
    return OutputSpec(name, Path(json_file), key)


def drop_empty_options(arguments: list[str]) -> list[str]:
    """The arguments without `--option ''` pairs: an empty workflow parameter means the command's default."""
    kept: list[str] = []
    index = 0
    while index < len(arguments):
        current = arguments[index]
        following = arguments[index + 1] if index + 1 < len(arguments) else None
        if current.startswith("--") and following == "":
            index += 2
            continue
        kept.append(current)
        index += 1
    return kept


def write_outputs(outputs: list[OutputSpec], folder: Path) -> None:
    if not outputs:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for output in outputs:
        try:
            value = json.loads(output.json_file.read_text())[output.key]
        except (OSError, ValueError, KeyError) as error:
            raise CommandError(f"output {output.name}: no {output.key!r} in {output.json_file}: {error}") from None
        text = value if isinstance(value, str) else json.dumps(value)
        (folder / output.name).write_text(text)
