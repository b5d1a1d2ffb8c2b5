"""Team names to ids for requests, with suggestions for names that do not resolve."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import Engine, select

from shared.db.models import Team, TeamAlias
from shared.errors import InvalidInput
from shared.teams import normalise_name


class UnknownTeamName(InvalidInput):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown team {name!r}{hint}")
        self.suggestions = suggestions


@dataclass(frozen=True)
class TeamDirectory:
    by_alias: dict[str, int]
    names: dict[int, str]

    @classmethod
    def load(cls, engine: Engine) -> TeamDirectory:
        with engine.connect() as connection:
            aliases = {
                alias: team_id for alias, team_id in connection.execute(select(TeamAlias.alias, TeamAlias.team_id))
            }
            names = {team_id: name for team_id, name in connection.execute(select(Team.id, Team.name))}
        return cls(aliases, names)

    def resolve(self, name: str) -> int:
        team_id = self.by_alias.get(normalise_name(name))
        if team_id is None:
            by_name = {n.lower(): n for n in self.names.values()}
            close = difflib.get_close_matches(name.lower(), list(by_name), n=3, cutoff=0.5)
            close += [
                self.names[self.by_alias[a]].lower()
                for a in difflib.get_close_matches(normalise_name(name), list(self.by_alias), n=3, cutoff=0.6)
            ]
            raise UnknownTeamName(name, list(dict.fromkeys(by_name[c] for c in close if c in by_name))[:3])
        return team_id
