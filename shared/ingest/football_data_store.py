"""Parsed football-data files written to the store: upserts keyed on (season, home, away), and the
odds and stats of each match compared with what is stored so a re-import changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.competitions import competition_info, season_name
from shared.db.models import (
    Competition,
    Match,
    MatchSourceId,
    MatchStats,
    Odds,
    OddsKind,
    Season,
)
from shared.ingest.football_data_csv import MATCH_FIELDS, SOURCE, STAT_COLUMNS, ParsedFile, ParsedMatch
from shared.teams import TeamResolver


@dataclass
class FileResult:
    path: Path
    league: str | None = None
    season: str | None = None
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    match_ids: list[int] = field(default_factory=list)  # added or changed: their results are settled

    @property
    def ok(self) -> bool:
        return not self.errors


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
            result.match_ids.append(row.id)
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
        result.match_ids.extend(new_ids)
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
