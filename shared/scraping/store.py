"""Writing WhoScored records into the store: upserts on natural keys, one transaction per page.

A page's rows are written only after the page parsed fully, in one transaction; re-writing the same
records changes nothing. In a dry run the same code runs and the transaction is rolled back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.clock import utcnow
from shared.competitions import CompetitionInfo
from shared.db.models import Competition, Match, MatchSourceId, MatchStats, MatchStatus, Season
from shared.scraping.aliases import football_data_spelling
from shared.scraping.records import FixtureMatch, MatchCentre, MatchPreview, TeamMatchStats
from shared.storage import ObjectNotFound, ObjectStore
from shared.teams import TeamResolver

SOURCE = "whoscored"


class Change(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: Literal["match", "match_stats"]
    key: str
    action: Literal["add", "update"]
    fields: tuple[str, ...] = ()


class LeagueSeason(BaseModel):
    """Where a scrape's rows go: the store's competition and season."""

    model_config = ConfigDict(frozen=True)

    competition: CompetitionInfo
    season_name: str  # "2020-2021"
    start_year: int

    @property
    def object_prefix(self) -> str:
        return f"league={self.competition.code}/season={self.season_name}"


@contextmanager
def page_transaction(engine: Engine, dry_run: bool) -> Iterator[Session]:
    """One page's writes: committed together, or (dry run / any error) rolled back together."""
    with sessionmaker(bind=engine, expire_on_commit=False)() as session:
        session.begin()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if dry_run:
            session.rollback()
        else:
            session.commit()


class StoreWriter:
    """Upserts one league-season's WhoScored pages; `changes` lists every add and update it made."""

    def __init__(self, engine: Engine, objects: ObjectStore, league: LeagueSeason, dry_run: bool) -> None:
        self._engine = engine
        self._objects = objects
        self._league = league
        self._dry_run = dry_run
        self.changes: list[Change] = []
        self.match_ids: set[int] = set()  # the store's matches added or changed: their results are settled
        self._added_this_run: set[str] = set()  # filled in further by a later page: still one "add"

    def write_fixtures(self, matches: list[FixtureMatch]) -> None:
        with page_transaction(self._engine, self._dry_run) as session:
            season_id = self._season_id(session)
            resolver = TeamResolver(session)
            for fixture in matches:
                home = resolve_team(
                    resolver, fixture.home_team_id, fixture.home_team_name, fixture.home_team_country_name
                )
                away = resolve_team(
                    resolver, fixture.away_team_id, fixture.away_team_name, fixture.away_team_country_name
                )
                finished = fixture.state is MatchStatus.finished
                self._upsert_match(
                    session,
                    season_id,
                    home,
                    away,
                    fixture.id,
                    {
                        "kickoff_utc": fixture.start_time_utc,
                        "kickoff_time_known": True,
                        "status": fixture.state,
                        "ft_home_goals": fixture.home_score if finished else None,
                        "ft_away_goals": fixture.away_score if finished else None,
                    },
                )

    def write_match_centre(self, centre: MatchCentre) -> bool:
        """Adds the match centre to a match the fixture feed stored; False if there is no such match."""
        with page_transaction(self._engine, self._dry_run) as session:
            match = _match_by_source_id(session, centre.match_id)
            if match is None:
                return False
            full_time = centre.full_time or (centre.score if centre.state is MatchStatus.finished else None)
            key = str(centre.match_id)
            self._apply(
                session,
                match,
                key,
                {
                    "ht_home_goals": centre.half_time.home if centre.half_time else None,
                    "ht_away_goals": centre.half_time.away if centre.half_time else None,
                    "ft_home_goals": full_time.home if full_time else None,
                    "ft_away_goals": full_time.away if full_time else None,
                    "referee": centre.referee,
                    "venue": centre.venue,
                    "attendance": centre.attendance,
                },
            )
            for team in (centre.home, centre.away):
                self._upsert_stats(session, match.id, key, team)
            self._put_json(
                f"raw/{SOURCE}/events/{self._league.object_prefix}/match={centre.match_id}.json", centre.events
            )
        return True

    def write_preview(self, preview: MatchPreview, match_id: int) -> None:
        self._put_json(
            f"raw/{SOURCE}/previews/{self._league.object_prefix}/match={match_id}.json", preview.model_dump(mode="json")
        )

    # --- rows ------------------------------------------------------------------------------------

    def _season_id(self, session: Session) -> int:
        info = self._league.competition
        competition_id = session.scalar(select(Competition.id).where(Competition.code == info.code))
        if competition_id is None:
            competition_id = session.scalars(
                insert(Competition).returning(Competition.id),
                [{"code": info.code, "name": info.name, "country": info.country}],
            ).one()
        season_id = session.scalar(
            select(Season.id).where(Season.competition_id == competition_id, Season.name == self._league.season_name)
        )
        if season_id is None:
            season_id = session.scalars(
                insert(Season).returning(Season.id),
                [
                    {
                        "competition_id": competition_id,
                        "name": self._league.season_name,
                        "start_year": self._league.start_year,
                    }
                ],
            ).one()
        return season_id

    def _upsert_match(
        self, session: Session, season_id: int, home_id: int, away_id: int, whoscored_id: int, values: dict[str, Any]
    ) -> None:
        key = str(whoscored_id)
        match = _match_by_source_id(session, whoscored_id)
        if match is None:
            # The same fixture may already be in the store from another source (natural key).
            match = session.scalar(
                select(Match).where(
                    Match.season_id == season_id, Match.home_team_id == home_id, Match.away_team_id == away_id
                )
            )
            if match is None:
                match_id = session.scalars(
                    insert(Match).returning(Match.id),
                    [
                        {
                            "season_id": season_id,
                            "home_team_id": home_id,
                            "away_team_id": away_id,
                            "updated_at": utcnow(),
                            **values,
                        }
                    ],
                ).one()
                self._link(session, whoscored_id, match_id)
                self.changes.append(Change(entity="match", key=key, action="add"))
                self.match_ids.add(match_id)
                self._added_this_run.add(key)
                return
            self._link(session, whoscored_id, match.id)
        self._apply(session, match, key, values)

    @staticmethod
    def _link(session: Session, whoscored_id: int, match_id: int) -> None:
        session.execute(
            insert(MatchSourceId), [{"source": SOURCE, "source_id": str(whoscored_id), "match_id": match_id}]
        )

    def _apply(self, session: Session, match: Match, key: str, values: dict[str, Any]) -> None:
        # Fields WhoScored does not know (None) never erase what another source stored.
        changed = {k: v for k, v in values.items() if v is not None and getattr(match, k) != v}
        if not changed:
            return
        session.execute(update(Match).where(Match.id == match.id).values(**changed, updated_at=utcnow()))
        self.match_ids.add(match.id)
        if key not in self._added_this_run:
            self.changes.append(Change(entity="match", key=key, action="update", fields=tuple(sorted(changed))))

    def _upsert_stats(self, session: Session, match_id: int, key: str, team: TeamMatchStats) -> None:
        values = {
            "shots": team.shots,
            "shots_on_target": team.shots_on_target,
            "fouls": team.fouls,
            "corners": team.corners,
            "yellow_cards": team.yellow_cards,
            "red_cards": team.red_cards,
            "possession": team.possession,
            "passes": team.passes,
            "pass_accuracy": team.pass_accuracy,
            "rating": team.rating,
            "formation": team.formation,
        }
        key = f"{key}/{team.side}"
        row = session.scalar(
            select(MatchStats).where(
                MatchStats.match_id == match_id, MatchStats.source == SOURCE, MatchStats.side == team.side
            )
        )
        if row is None:
            session.execute(insert(MatchStats), [{"match_id": match_id, "source": SOURCE, "side": team.side, **values}])
            self.changes.append(Change(entity="match_stats", key=key, action="add"))
            return
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if changed:
            session.execute(update(MatchStats).where(MatchStats.id == row.id).values(**changed))
            self.changes.append(Change(entity="match_stats", key=key, action="update", fields=tuple(sorted(changed))))

    def _put_json(self, key: str, payload: Any) -> None:
        if self._dry_run:
            return
        data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        try:
            if self._objects.get_bytes(key) == data:
                return
        except ObjectNotFound:
            pass
        self._objects.put_bytes(key, data, content_type="application/json")


def resolve_team(resolver: TeamResolver, whoscored_id: int, name: str, country: str | None) -> int:
    """The store's team for a WhoScored team, shared with football-data through the curated aliases."""
    football_data_name = football_data_spelling(name)
    if football_data_name is not None:
        existing = resolver.known(football_data_name)
        if existing is not None and resolver.known(name) is None:
            resolver.add_alias(name, existing)
    team_id = resolver.resolve(SOURCE, str(whoscored_id), name, country)
    if football_data_name is not None:
        resolver.add_alias(football_data_name, team_id)
    return team_id


def _match_by_source_id(session: Session, whoscored_id: int) -> Match | None:
    return session.scalar(
        select(Match)
        .join(MatchSourceId, MatchSourceId.match_id == Match.id)
        .where(MatchSourceId.source == SOURCE, MatchSourceId.source_id == str(whoscored_id))
    )
