"""The live view of a local workflow run: a table of steps on a terminal, one line per change otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.table import Table

from shared.workflows.runner import Node

STYLES = {
    "Pending": "dim",
    "Running": "cyan",
    "Retrying": "yellow",
    "Succeeded": "green",
    "Skipped": "dim",
    "Omitted": "dim",
    "Failed": "red",
}


class Progress:
    """Listener of a run: redraws the table on a terminal; in a log (not a tty) prints each phase change once."""

    def __init__(self, console: Console, title: str) -> None:
        self._console = console
        self._title = title
        self._nodes: dict[str, Node] = {}
        self._seen: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, node: Node) -> None:
        with self._lock:
            self._nodes[node.name] = node
            if self._live is not None:
                self._live.update(self.table())
                return
            state = (node.phase, node.attempts)
            if self._seen.get(node.name) == state or node.phase == "Pending":
                return
            self._seen[node.name] = state
            attempt = f" (attempt {node.attempts})" if node.attempts > 1 else ""
            detail = f": {node.message}" if node.message and node.phase in ("Failed", "Retrying", "Skipped") else ""
            self._console.print(f"{node.name}: {node.phase}{attempt}{detail}", highlight=False, markup=False)

    def table(self) -> Table:
        table = Table("step", "phase", "attempt", "seconds", "detail", title=self._title)
        for node in self._nodes.values():
            style = STYLES.get(node.phase, "")
            detail = node.message if node.phase not in ("Succeeded", "Running") else ""
            table.add_row(
                node.name,
                f"[{style}]{node.phase}[/{style}]" if style else node.phase,
                str(node.attempts or "-"),
                f"{node.elapsed:.1f}",
                detail[:80],
            )
        return table

    @contextmanager
    def shown(self) -> Iterator[Progress]:
        if not self._console.is_terminal:
            yield self
            return
        with Live(self.table(), console=self._console, refresh_per_second=4) as live:
            self._live = live
            try:
                yield self
            finally:
                live.update(self.table())
                self._live = None
