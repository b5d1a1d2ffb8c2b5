"""Rich consoles for `t2b` whose output survives files, pipes and CI logs.

- emoji codes are never interpreted: `features.py:100:` stays as written (rich's `:100:` is an emoji);
- not a terminal: lines are not wrapped at 80 columns and progress displays (spinners, bars) are not
  drawn at all, so no frame lands in the file;
- a terminal: rich as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, ConsoleDimensions
from rich.progress import Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.rule import Rule
from rich.text import Text

# wide enough for any line we print; a table in a file takes its natural width, never more
UNWRAPPED_WIDTH = 10_000
RULE_WIDTH = 80  # a rule fills the line; in a file it keeps the width of a classic terminal


class CliConsole(Console):
    """A Console that wraps only on a terminal (the width is asked at every print: stdout may change)."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        return measured if self.is_terminal else ConsoleDimensions(UNWRAPPED_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def rule(self, title: str | Text = "", **options: Any) -> None:
        self.print(Rule(title, **options), width=min(self.width, RULE_WIDTH))


def make_console(stderr: bool = False) -> CliConsole:
    return CliConsole(stderr=stderr, emoji=False, highlight=False)


console = make_console()
error_console = make_console(stderr=True)


def progress(*columns: ProgressColumn | str, transient: bool = False) -> Progress:
    """A rich Progress on the console, drawn only on a terminal."""
    return Progress(*columns, console=console, transient=transient, disable=not console.is_terminal)


@contextmanager
def spinner(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with a status line for a long step; the yielded function updates the status."""
    with progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as bar:
        task = bar.add_task(description)

        def notify(message: str) -> None:
            bar.update(task, description=f"{description}: {message}")

        yield notify
