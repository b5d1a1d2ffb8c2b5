"""One team per club, whatever the data source calls it.

Names are normalised (accents, punctuation, case, club-type tokens) and looked up in the alias
table; a data source's own team id is remembered in `team_source_ids` so that later rows from that
source resolve by id even if the spelling changes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db.models import Team, TeamAlias, TeamSourceId

# Tokens that say what kind of club it is rather than which club ("FC Barcelona" = "Barcelona").
_CLUB_TOKENS = frozenset(
    {
        "fc",
        "cf",
        "afc",
        "sc",
        "ac",
        "ssc",
        "as",
        "ss",
        "us",
        "vfb",
        "vfl",
        "tsg",
        "sv",
        "rc",
        "ogc",
        "osc",
        "cd",
        "ud",
        "sd",
        "rcd",
        "club",
        "calcio",
        "1899",
        "1846",
    }
)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_name(name: str) -> str:
    """`'Málaga CF'` → `'malaga'`; `"M'gladbach"` → `'mgladbach'`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    ascii_name = ascii_name.replace("'", "").replace(".", "")
    tokens = [t for t in _NON_WORD.split(ascii_name) if t]
    kept = [t for t in tokens if t not in _CLUB_TOKENS]
    return " ".join(kept or tokens)


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
