"""One team per club, whatever the data source calls it.

Names are normalised (accents, punctuation, case, club-type tokens) and looked up in the alias
table; a data source's own team id is remembered in `team_source_ids` so that later rows from that
source resolve by id even if the spelling changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db.models import Team, TeamAlias, TeamSourceId
from shared.team_names import normalise_name


@dataclass
class TeamResolver:
    """Resolves names and source ids to team ids inside one transaction, creating teams as needed."""

    session: Session
    _by_alias: dict[str, int] = field(default_factory=dict)
    _by_source: dict[tuple[str, str], int] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_alias = {
            alias: team_id for alias, team_id in self.session.execute(select(TeamAlias.alias, TeamAlias.team_id))
        }
        rows = self.session.execute(select(TeamSourceId.source, TeamSourceId.source_id, TeamSourceId.team_id))
        self._by_source = {(source, source_id): team_id for source, source_id, team_id in rows}

    def known(self, name: str) -> int | None:
        return self._by_alias.get(normalise_name(name))

    def resolve(self, source: str, source_id: str, name: str, country: str | None = None) -> int:
        team_id = self._by_source.get((source, source_id))
        if team_id is None:
            team_id = self.known(name)
            if team_id is None:
                team_id = self.session.scalars(
                    insert(Team).returning(Team.id), [{"name": name, "country": country}]
                ).one()
                self.created.append(name)
            self.session.execute(
                insert(TeamSourceId),
                [{"source": source, "source_id": source_id, "source_name": name, "team_id": team_id}],
            )
            self._by_source[(source, source_id)] = team_id
        self.add_alias(name, team_id)
        return team_id

    def add_alias(self, name: str, team_id: int) -> None:
        alias = normalise_name(name)
        if alias and alias not in self._by_alias:
            self.session.execute(insert(TeamAlias), [{"alias": alias, "team_id": team_id}])
            self._by_alias[alias] = team_id
