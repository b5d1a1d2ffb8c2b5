"""football-data.co.uk CSV import.

One file is one transaction: a file with any malformed row is rejected whole (a truncated file
would otherwise leave a season half-loaded), reported line by line, and other files still load.
Rows upsert on the natural key (season, home team, away team), so a re-import changes nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.competitions import SEASON_START_MONTH, UnknownCompetition, competition_info, season_name, season_start_year
from shared.db.models import (
    Competition,
    Match,
    MatchSourceId,
    MatchStats,
    MatchStatus,
    Odds,
    OddsKind,
    Season,
)
from shared.db.session import transaction
from shared.ingest.runs import RunCounts, ingest_run
from shared.teams import TeamResolver

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


@dataclass
class FileResult:
    path: Path
    league: str | None = None
    season: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- parsing ----------------------------------------------------------------------------------


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
    header = [HEADER_ALIASES.get(name.strip(), name.strip()) for name in next(reader, [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise FileRejected(path, [f"{path}:1: not a football-data CSV, missing columns {', '.join(missing)}"])
    odds = odds_columns(header)
    errors: list[str] = []
    matches: list[ParsedMatch] = []
    leagues: set[str] = set()
    for line, cells in enumerate(reader, start=2):
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


# --- storing ----------------------------------------------------------------------------------


def _season_id(session: Session, league: str, start_year: int) -> int:
    info = competition_info(league)
    competition_id = session.scalar(select(Competition.id).where(Competition.code == league))
    if competition_id is None:
        competition_id = session.scalars(
            insert(Competition).returning(Competition.id),
            [{"code": info.code, "name": info.name, "country": info.country}],
        ).one()
    name = season_name(start_year)
    season_id = session.scalar(select(Season.id).where(Season.competition_id == competition_id, Season.name == name))
    if season_id is None:
        season_id = session.scalars(
            insert(Season).returning(Season.id),
            [{"competition_id": competition_id, "name": name, "start_year": start_year}],
        ).one()
    return season_id


def store_file(session: Session, parsed: ParsedFile, result: FileResult) -> None:
    season_id = _season_id(session, parsed.league, parsed.start_year)
    country = competition_info(parsed.league).country
    teams = TeamResolver(session)
    team_ids = {
        name: teams.resolve(SOURCE, name, name, country)
        for name in sorted({n for m in parsed.matches for n in (m.home, m.away)})
    }

    existing = {
        (row.home_team_id, row.away_team_id): row
        for row in session.execute(
            select(Match.id, Match.home_team_id, Match.away_team_id, *(getattr(Match, f) for f in MATCH_FIELDS)).where(
                Match.season_id == season_id
            )
        )
    }
    existing_ids = [row.id for row in existing.values()]
    stored_odds = _stored_odds(session, existing_ids)
    stored_stats = _stored_stats(session, existing_ids)
    source_ids = set(
        session.scalars(
            select(MatchSourceId.match_id).where(
                MatchSourceId.source == SOURCE, MatchSourceId.match_id.in_(existing_ids)
            )
        )
    )

    new_matches: list[ParsedMatch] = []
    match_updates: list[dict[str, object]] = []
    odds_inserts: list[dict[str, object]] = []
    odds_updates: list[dict[str, object]] = []
    stats_inserts: list[dict[str, object]] = []
    stats_updates: list[dict[str, object]] = []
    source_inserts: list[dict[str, object]] = []
    now = utcnow()

    for match in parsed.matches:
        key = (team_ids[match.home], team_ids[match.away])
        row = existing.get(key)
        if row is None:
            new_matches.append(match)
            continue
        changed = False
        values = match.match_values()
        if (
            not match.kickoff_time_known
            and row.kickoff_time_known
            and row.kickoff_utc.date() == match.kickoff_utc.date()
        ):
            # another source (WhoScored) knows the kick-off time this file lacks: keep it
            values.pop("kickoff_utc")
            values.pop("kickoff_time_known")
        # a value this source does not know (None) never erases what another source stored
        if any(v is not None and getattr(row, k) != v for k, v in values.items()):
            match_updates.append(
                {"id": row.id, "updated_at": now, **{k: v for k, v in values.items() if v is not None}}
            )
            changed = True
        changed |= _diff_odds(row.id, match, stored_odds.get(row.id, {}), odds_inserts, odds_updates)
        changed |= _diff_stats(row.id, match, stored_stats.get(row.id, {}), stats_inserts, stats_updates)
        if row.id not in source_ids:
            source_inserts.append(_source_row(parsed, match, row.id))
            changed = True
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1

    if new_matches:
        new_ids = session.scalars(
            insert(Match).returning(Match.id, sort_by_parameter_order=True),
            [
                {
                    "season_id": season_id,
                    "home_team_id": team_ids[m.home],
                    "away_team_id": team_ids[m.away],
                    "updated_at": now,
                    **m.match_values(),
                }
                for m in new_matches
            ],
        ).all()
        for match_id, match in zip(new_ids, new_matches, strict=True):
            source_inserts.append(_source_row(parsed, match, match_id))
            _diff_odds(match_id, match, {}, odds_inserts, odds_updates)
            _diff_stats(match_id, match, {}, stats_inserts, stats_updates)
        result.added += len(new_matches)

    if match_updates:
        session.execute(update(Match), match_updates)
    for model, rows in ((MatchSourceId, source_inserts), (Odds, odds_inserts), (MatchStats, stats_inserts)):
        if rows:
            session.execute(insert(model), rows)
    for model, rows in ((Odds, odds_updates), (MatchStats, stats_updates)):
        if rows:
            session.execute(update(model), rows)


def _source_row(parsed: ParsedFile, match: ParsedMatch, match_id: int) -> dict[str, object]:
    return {
        "source": SOURCE,
        "source_id": f"{parsed.league}/{parsed.season}/{match.home}/{match.away}",
        "match_id": match_id,
    }


def _stored_odds(session: Session, match_ids: list[int]) -> dict[int, dict[tuple[str, OddsKind], tuple]]:
    stored: dict[int, dict[tuple[str, OddsKind], tuple]] = {}
    if match_ids:
        rows = session.execute(
            select(Odds.id, Odds.match_id, Odds.bookmaker, Odds.kind, Odds.home, Odds.draw, Odds.away).where(
                Odds.match_id.in_(match_ids)
            )
        )
        for row in rows:
            stored.setdefault(row.match_id, {})[(row.bookmaker, row.kind)] = (row.id, row.home, row.draw, row.away)
    return stored


def _stored_stats(session: Session, match_ids: list[int]) -> dict[int, dict[str, dict[str, object]]]:
    stored: dict[int, dict[str, dict[str, object]]] = {}
    if match_ids:
        columns = [getattr(MatchStats, name) for name in STAT_COLUMNS]
        rows = session.execute(
            select(MatchStats.id, MatchStats.match_id, MatchStats.side, *columns).where(
                MatchStats.source == SOURCE, MatchStats.match_id.in_(match_ids)
            )
        )
        for row in rows:
            stored.setdefault(row.match_id, {})[row.side] = row._asdict()
    return stored


def _diff_odds(match_id: int, match: ParsedMatch, stored: dict, inserts: list, updates: list) -> bool:
    changed = False
    for (bookmaker, kind), (home, draw, away) in match.odds.items():
        current = stored.get((bookmaker, kind))
        if current is None:
            inserts.append(
                {"match_id": match_id, "bookmaker": bookmaker, "kind": kind, "home": home, "draw": draw, "away": away}
            )
            changed = True
        elif current[1:] != (home, draw, away):
            updates.append({"id": current[0], "home": home, "draw": draw, "away": away})
            changed = True
    return changed


def _diff_stats(match_id: int, match: ParsedMatch, stored: dict, inserts: list, updates: list) -> bool:
    changed = False
    for side, values in match.stats.items():
        current = stored.get(side)
        if current is None:
            inserts.append({"match_id": match_id, "source": SOURCE, "side": side, **values})
            changed = True
        elif any(current[k] != v for k, v in values.items()):
            updates.append({"id": current["id"], **values})
            changed = True
    return changed


# --- entry point ------------------------------------------------------------------------------


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
    except FileRejected as exc:
        result.errors = exc.errors
    except Exception as exc:  # a database error fails this file only; the others still load
        result.errors = [f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
    return result


def _count(counts: RunCounts, result: FileResult) -> None:
    counts.added, counts.updated = result.added, result.updated
    counts.details = {"league": result.league, "season": result.season, "unchanged": result.unchanged}
