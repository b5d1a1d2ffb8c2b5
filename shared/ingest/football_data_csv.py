"""football-data.co.uk CSV files read into typed rows: every malformed row reported by line, none stored."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.competitions import SEASON_START_MONTH, UnknownCompetition, competition_info, season_name, season_start_year
from shared.db.models import (
    MatchStatus,
    OddsKind,
)

SOURCE = "football-data"
# football-data.co.uk gives kick-off times in UK time.
UK = ZoneInfo("Europe/London")
SEASON_END = (8, 31)  # the latest a season's matches may be played

HEADER_ALIASES = {
    "HT": "HomeTeam",
    "AT": "AwayTeam",
    "Home": "HomeTeam",
    "Away": "AwayTeam",
    "HG": "FTHG",
    "AG": "FTAG",
    "Res": "FTR",
}
REQUIRED = ("Div", "Date", "HomeTeam", "AwayTeam")
STAT_COLUMNS = {  # match_stats column: (home header, away header)
    "shots": ("HS", "AS"),
    "shots_on_target": ("HST", "AST"),
    "fouls": ("HF", "AF"),
    "corners": ("HC", "AC"),
    "yellow_cards": ("HY", "AY"),
    "red_cards": ("HR", "AR"),
}
MATCH_FIELDS = (
    "kickoff_utc",
    "kickoff_time_known",
    "status",
    "ht_home_goals",
    "ht_away_goals",
    "ft_home_goals",
    "ft_away_goals",
    "referee",
    "attendance",
)


class RowError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class FileRejected(ValueError):
    """The file was not loaded; `errors` are one-line messages naming file and line."""

    def __init__(self, path: Path, errors: Sequence[str]) -> None:
        super().__init__(errors[0] if len(errors) == 1 else f"{errors[0]} (+{len(errors) - 1} more)")
        self.path = path
        self.errors = list(errors)


@dataclass(frozen=True)
class OddsColumns:
    bookmaker: str
    kind: OddsKind
    home: str
    draw: str
    away: str


@dataclass
class ParsedMatch:
    line: int
    home: str
    away: str
    kickoff_utc: datetime
    kickoff_time_known: bool
    status: MatchStatus
    ht_home_goals: int | None
    ht_away_goals: int | None
    ft_home_goals: int | None
    ft_away_goals: int | None
    referee: str | None
    attendance: int | None
    odds: dict[tuple[str, OddsKind], tuple[float, float, float]] = field(default_factory=dict)
    stats: dict[str, dict[str, int | None]] = field(default_factory=dict)

    def match_values(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in MATCH_FIELDS}


@dataclass
class ParsedFile:
    path: Path
    league: str
    start_year: int
    matches: list[ParsedMatch]

    @property
    def season(self) -> str:
        return season_name(self.start_year)


def odds_columns(header: Iterable[str]) -> list[OddsColumns]:
    """Every 1X2 triple `<p>H/<p>D/<p>A`; `<p>C…` is the closing price of bookmaker `<p>`."""
    names = set(header)
    prefixes = sorted(n[:-1] for n in names if n.endswith("H") and f"{n[:-1]}D" in names and f"{n[:-1]}A" in names)
    triples = set(prefixes)
    columns = []
    for prefix in prefixes:
        if prefix.endswith("C") and prefix[:-1] in triples:
            bookmaker, kind = prefix[:-1], OddsKind.closing
        else:
            bookmaker, kind = prefix, OddsKind.opening
        columns.append(OddsColumns(bookmaker, kind, f"{prefix}H", f"{prefix}D", f"{prefix}A"))
    return columns


def _parse_date(value: str, line: int) -> date:
    try:
        day, month, year = (int(part) for part in value.strip().split("/"))
    except ValueError:
        raise RowError(line, f"date {value!r} is not dd/mm/yy or dd/mm/yyyy") from None
    if year < 100:
        year += 2000 if year < 70 else 1900
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise RowError(line, f"impossible date {value!r} ({exc})") from None


def _parse_time(value: str, line: int) -> time | None:
    if not value.strip():
        return None
    try:
        hours, minutes = (int(part) for part in value.strip().split(":")[:2])
        return time(hours, minutes)
    except ValueError:
        raise RowError(line, f"kick-off time {value!r} is not HH:MM") from None


def _parse_int(value: str | None, column: str, line: int) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(line, f"{column}={value!r} is not a number") from None
    if not number.is_integer() or number < 0:
        raise RowError(line, f"{column}={value!r} is not a whole non-negative number")
    return int(number)


def _parse_price(value: str | None, column: str, line: int) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        price = float(value)
    except ValueError:
        raise RowError(line, f"{column}={value!r} is not a decimal price") from None
    return price if price > 1.0 else None  # a price of 1 or less is a placeholder, not a quote


def _kickoff(day: date, at: time | None) -> tuple[datetime, bool]:
    if at is None:
        return datetime.combine(day, time(12, 0), UTC), False
    return datetime.combine(day, at, UK).astimezone(UTC), True


def _result(row: dict[str, str], line: int) -> tuple[MatchStatus, int | None, int | None]:
    result = (row.get("FTR") or "").strip()
    home_goals = _parse_int(row.get("FTHG"), "FTHG", line)
    away_goals = _parse_int(row.get("FTAG"), "FTAG", line)
    if not result:
        if home_goals is not None or away_goals is not None:
            raise RowError(line, "goals given but FTR (full-time result) is empty")
        return MatchStatus.scheduled, None, None
    if result not in {"H", "D", "A"} or home_goals is None or away_goals is None:
        raise RowError(line, f"FTR={result!r} with FTHG/FTAG={home_goals}/{away_goals}: need H, D or A and both goals")
    expected = "H" if home_goals > away_goals else "A" if home_goals < away_goals else "D"
    if result != expected:
        raise RowError(line, f"FTR={result!r} contradicts the score {home_goals}-{away_goals}")
    return MatchStatus.finished, home_goals, away_goals


def _in_season(day: date, start_year: int) -> bool:
    return date(start_year, SEASON_START_MONTH, 1) <= day <= date(start_year + 1, *SEASON_END)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # older football-data files are Windows-1252/Latin-1


def parse_file(path: Path) -> ParsedFile:
    """Parse a whole file or raise FileRejected listing every bad line."""
    try:
        text = _read_text(path)
    except OSError as exc:
        raise FileRejected(path, [f"{path}: cannot read ({exc.strerror})"]) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [HEADER_ALIASES.get(name.strip(), name.strip()) for name in next(reader, [])]
    except csv.Error as exc:
        raise FileRejected(path, [f"{path}:1: not a CSV text file ({exc})"]) from None
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileRejected(path, [f"{path}:1: not a football-data CSV, missing columns {', '.join(missing)}"])
    odds = odds_columns(header)
    errors: list[str] = []
    matches: list[ParsedMatch] = []
    leagues: set[str] = set()
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # football-data pads some files with empty rows
            if len(cells) != len(header):
                errors.append(
                    f"{path}:{line}: expected {len(header)} fields, found {len(cells)} (truncated or malformed row)"
                )
                continue
            row = dict(zip(header, cells, strict=True))
            try:
                matches.append(_parse_row(row, line, odds))
                leagues.add(row["Div"].strip())
            except RowError as exc:
                errors.append(f"{path}:{exc.line}: {exc.message}")
    except csv.Error as exc:
        errors.append(f"{path}:{reader.line_num}: not readable as CSV ({exc}); is it a text file?")
    last_line = f"{path}:{reader.line_num}:"
    if not text.endswith(("\n", "\r")) and not any(error.startswith(last_line) for error in errors):
        # Every football-data file ends with a newline: without one the download stopped inside the
        # last row, and a cut price ("10.3" of "10.31") would still parse. One rejection per line.
        errors.append(f"{last_line} the file ends inside this line (no final newline); download it again")
    if not matches and not errors:
        errors.append(f"{path}:2: no match rows")
    if len(leagues) > 1:
        errors.append(f"{path}: several league codes in one file ({', '.join(sorted(leagues))})")
    if errors:
        raise FileRejected(path, errors)
    league = leagues.pop()
    try:
        competition_info(league)
    except UnknownCompetition as exc:
        raise FileRejected(path, [f"{path}:2: {exc}"]) from None
    start_year = season_start_year(min(m.kickoff_utc for m in matches).date())
    outside = [m for m in matches if not _in_season(m.kickoff_utc.date(), start_year)]
    errors = [
        f"{path}:{m.line}: date {m.kickoff_utc.date()} is outside season {season_name(start_year)}" for m in outside
    ]
    seen: dict[tuple[str, str], int] = {}
    for m in matches:
        if (m.home, m.away) in seen:
            errors.append(f"{path}:{m.line}: {m.home} v {m.away} already on line {seen[(m.home, m.away)]}")
        seen[(m.home, m.away)] = m.line
    if errors:
        raise FileRejected(path, errors)
    return ParsedFile(path, league, start_year, matches)


def _parse_row(row: dict[str, str], line: int, odds: list[OddsColumns]) -> ParsedMatch:
    home, away = row["HomeTeam"].strip(), row["AwayTeam"].strip()
    if not home or not away:
        raise RowError(line, "HomeTeam and AwayTeam must both be set")
    if home == away:
        raise RowError(line, f"{home!r} cannot play itself")
    if not row["Div"].strip():
        raise RowError(line, "Div (league code) is empty")
    kickoff, time_known = _kickoff(_parse_date(row["Date"], line), _parse_time(row.get("Time", ""), line))
    status, ft_home, ft_away = _result(row, line)
    match = ParsedMatch(
        line=line,
        home=home,
        away=away,
        kickoff_utc=kickoff,
        kickoff_time_known=time_known,
        status=status,
        ht_home_goals=_parse_int(row.get("HTHG"), "HTHG", line),
        ht_away_goals=_parse_int(row.get("HTAG"), "HTAG", line),
        ft_home_goals=ft_home,
        ft_away_goals=ft_away,
        referee=(row.get("Referee") or "").strip() or None,
        attendance=_parse_int(row.get("Attendance"), "Attendance", line),
    )
    for columns in odds:
        prices = tuple(_parse_price(row[c], c, line) for c in (columns.home, columns.draw, columns.away))
        if all(price is not None for price in prices):
            match.odds[(columns.bookmaker, columns.kind)] = prices  # type: ignore[assignment]
    for side, index in (("home", 0), ("away", 1)):
        values = {stat: _parse_int(row.get(cols[index]), cols[index], line) for stat, cols in STAT_COLUMNS.items()}
        if any(value is not None for value in values.values()):
            match.stats[side] = values
    return match
