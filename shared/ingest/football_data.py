"""football-data.co.uk CSV import: find the files, then per file parse (football_data_csv) and store
(football_data_store).

One file is one transaction: a file with any malformed row is rejected whole (a truncated file
would otherwise leave a season half-loaded), reported line by line, and other files still load.
Rows upsert on the natural key (season, home team, away team), so a re-import changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine

from shared.db.session import transaction
from shared.ingest.football_data_csv import SOURCE, FileRejected, parse_file
from shared.ingest.football_data_store import FileResult, store_file
from shared.ingest.runs import RunCounts, ingest_run
from shared.monitoring.quality import settle_results


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files as given; folders are searched for *.csv, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.csv")))
        else:
            found.append(path)
    return found


def import_file(engine: Engine, path: Path) -> FileResult:
    result = FileResult(path)
    try:
        with ingest_run(engine, SOURCE, str(path)) as counts:
            try:
                parsed = parse_file(path)
            except FileRejected as exc:
                counts.rejected = len(exc.errors)
                counts.details = {"errors": exc.errors[:50]}
                raise
            result.league, result.season = parsed.league, parsed.season
            with transaction(engine) as session:
                store_file(session, parsed, result)
            _count(counts, result)
        settle_results(engine, result.match_ids)  # logged predictions of the results just stored
    except FileRejected as exc:
        result.errors = exc.errors
    except Exception as exc:  # a database error fails this file only; the others still load
        result.errors = [f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
    return result


def _count(counts: RunCounts, result: FileResult) -> None:
    counts.added, counts.updated = result.added, result.updated
    counts.details = {"league": result.league, "season": result.season, "unchanged": result.unchanged}
