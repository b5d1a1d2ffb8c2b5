"""football-data import against real files, on both store backends."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from shared.db.models import IngestRun, Match, MatchStats, Odds, OddsKind, RunStatus, Team, TeamSourceId
from shared.db.session import get_engine
from shared.ingest.football_data import discover, import_file
from shared.ingest.football_data_csv import odds_columns, parse_file

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "football-data"
E0_2122 = DEMO / "E0" / "2021-2022.csv"
E0_1718 = DEMO / "E0" / "2017-2018.csv"


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model))


def snapshot(engine) -> list[tuple]:
    """Every stored match and odds row, to prove a failed import changed nothing."""
    with engine.connect() as connection:
        matches = connection.execute(text("SELECT * FROM matches ORDER BY id")).all()
        odds = connection.execute(text("SELECT * FROM odds ORDER BY id")).all()
    return [tuple(r) for r in matches] + [tuple(r) for r in odds]


def with_cell(lines: list[str], row: int, column: int, value: str) -> list[str]:
    cells = lines[row].split(",")
    cells[column] = value
    return [*lines[:row], ",".join(cells), *lines[row + 1 :]]


def test_odds_column_families_found_in_both_header_eras() -> None:
    modern = {(c.bookmaker, c.kind) for c in odds_columns(E0_2122.read_text().splitlines()[0].split(","))}
    assert {
        ("PS", OddsKind.opening),
        ("PS", OddsKind.closing),
        ("B365", OddsKind.closing),
        ("Avg", OddsKind.opening),
        ("Max", OddsKind.closing),
        ("VC", OddsKind.opening),
        ("VC", OddsKind.closing),
    } <= modern
    assert len(modern) == 16  # B365 BW IW PS WH VC Max Avg, each pre-match and closing (SOURCE.md)
    old = {(c.bookmaker, c.kind) for c in odds_columns(E0_1718.read_text().splitlines()[0].split(","))}
    assert ("BbAv", OddsKind.opening) in old and ("PS", OddsKind.closing) in old
    assert not any(c.bookmaker.endswith("AH") for c in odds_columns(E0_2122.read_text().splitlines()[0].split(",")))


def test_parse_converts_uk_kickoff_to_utc_and_keeps_unknown_times_flagged() -> None:
    first = parse_file(E0_2122).matches[0]
    assert (first.home, first.away) == ("Brentford", "Arsenal")
    assert first.kickoff_utc == datetime(2021, 8, 13, 19, 0, tzinfo=UTC)  # 20:00 BST
    assert first.kickoff_time_known
    assert first.odds[("PS", OddsKind.closing)] == (3.94, 3.33, 2.13)
    older = parse_file(E0_1718).matches[0]
    assert not older.kickoff_time_known and older.kickoff_utc.hour == 12


def test_import_is_idempotent_and_keeps_every_odds_family(db_url: str) -> None:
    engine = get_engine(db_url)
    first = import_file(engine, E0_2122)
    assert first.ok and (first.added, first.updated) == (380, 0)
    assert count(engine, Match) == 380 and count(engine, Team) == 20
    before = snapshot(engine)
    second = import_file(engine, E0_2122)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 380)
    assert snapshot(engine) == before
    with engine.connect() as connection:
        families = set(connection.execute(select(Odds.bookmaker, Odds.kind).distinct()).tuples())
        runs = connection.execute(select(IngestRun.status, IngestRun.rows_added, IngestRun.rows_updated)).all()
        stats = connection.scalar(select(func.count()).select_from(MatchStats))
    assert len(families) == 16
    assert [tuple(r) for r in runs] == [(RunStatus.succeeded, 380, 0), (RunStatus.succeeded, 0, 0)]
    assert stats == 760


def test_changed_price_is_one_update(db_url: str, tmp_path: Path) -> None:
    engine = get_engine(db_url)
    import_file(engine, E0_2122)
    changed = tmp_path / "E0.csv"
    lines = E0_2122.read_text().splitlines()
    lines[1] = lines[1].replace(",4.05,3.46,2.05,", ",4.10,3.46,2.05,", 1)  # Pinnacle's home price
    changed.write_text("\n".join(lines) + "\n")
    result = import_file(engine, changed)
    assert (result.added, result.updated, result.unchanged) == (0, 1, 379)
    with engine.connect() as connection:
        prices = connection.scalars(select(Odds.home).where(Odds.bookmaker == "PS", Odds.kind == OddsKind.opening))
        assert 4.10 in set(prices)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda lines: [*lines[:101], lines[101][:40]], ":102: expected"),  # file cut mid-row
        (lambda lines: with_cell(lines, 50, 1, "31/02/2022"), ":51: impossible date '31/02/2022'"),
        (
            lambda lines: [lines[0]] + [line.replace("E0,", "X9,", 1) for line in lines[1:]],
            ":2: unknown league code 'X9'",
        ),
    ],
    ids=["truncated", "impossible-date", "unknown-league"],
)
def test_bad_file_is_rejected_whole_with_file_and_line(db_url: str, tmp_path: Path, mutate, expected: str) -> None:
    engine = get_engine(db_url)
    import_file(engine, E0_1718)
    before = snapshot(engine)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(mutate(E0_2122.read_text().splitlines())) + "\n")
    result = import_file(engine, bad)
    assert not result.ok
    assert any(expected in error and str(bad) in error for error in result.errors), result.errors
    assert all("\n" not in error for error in result.errors)
    assert snapshot(engine) == before
    with engine.connect() as connection:
        failed = connection.execute(select(IngestRun).where(IngestRun.status == RunStatus.failed)).all()
    assert len(failed) == 1


def test_cli_loads_good_files_and_exits_non_zero_on_a_bad_one(
    configure, sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.cli.app import run
    from shared.cli.errors import ExitCode

    configure(DATABASE_URL=sqlite_url)
    folder = tmp_path / "in"
    (folder / "E0").mkdir(parents=True)
    shutil.copy(E0_2122, folder / "E0" / "2021-2022.csv")
    (folder / "E0" / "broken.csv").write_text(E0_2122.read_text()[:5000])
    assert run(["ingest", "football-data", str(folder)]) == ExitCode.FAILED
    output = capsys.readouterr()
    assert "broken.csv:" in output.err and "expected" in output.err and "1 of 2 files rejected" in output.err
    assert count(get_engine(sqlite_url), Match) == 380


@pytest.mark.slow
def test_full_reference_data_into_postgres(pg_url: str, football_data: Path) -> None:
    engine = get_engine(pg_url)
    files = discover([football_data])
    results = [import_file(engine, path) for path in files]
    assert all(r.ok for r in results), [e for r in results for e in r.errors]
    assert sum(r.added for r in results) == 30941
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Match)) == 30941
        names = connection.execute(select(TeamSourceId.source_name, TeamSourceId.team_id)).all()
        teams = connection.scalar(select(func.count()).select_from(Team))
    # one team per club: every spelling maps to exactly one team and no team has two spellings
    assert len({name for name, _ in names}) == len(names) == teams
    again = [import_file(engine, path) for path in files]
    assert (sum(r.added for r in again), sum(r.updated for r in again)) == (0, 0)


def test_a_known_kickoff_time_from_another_source_is_kept(db_url: str) -> None:
    engine = get_engine(db_url)
    import_file(engine, E0_1718)  # no kick-off times before 2019-20: noon UTC, flagged unknown
    with engine.begin() as connection:
        match_id, kickoff = connection.execute(select(Match.id, Match.kickoff_utc).limit(1)).one()
        precise = kickoff.replace(hour=14, minute=0)
        connection.execute(
            Match.__table__.update().where(Match.id == match_id).values(kickoff_utc=precise, kickoff_time_known=True)
        )
    again = import_file(engine, E0_1718)
    assert (again.added, again.updated) == (0, 0)
    with engine.connect() as connection:
        assert connection.scalar(select(Match.kickoff_utc).where(Match.id == match_id)) == precise


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # cut inside the last field: every field is there, the last price lost a digit
        (lambda text: text.rstrip("\n")[:-1].encode(), ":381: the file ends inside this line"),
        (lambda text: gzip.compress(text.encode()), ":1: not a CSV text file"),  # a binary file
    ],
    ids=["cut-in-last-field", "binary"],
)
def test_a_file_that_lies_is_rejected_naming_its_line(sqlite_url: str, tmp_path: Path, content, expected) -> None:
    engine = get_engine(sqlite_url)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content(E0_2122.read_text()))
    result = import_file(engine, bad)
    assert not result.ok and any(expected in error for error in result.errors), result.errors
    with engine.connect() as connection:
        run = connection.execute(select(IngestRun.status, IngestRun.rows_rejected, IngestRun.rows_added)).one()
    assert (run.status, run.rows_rejected, run.rows_added) == (RunStatus.failed, 1, 0)
