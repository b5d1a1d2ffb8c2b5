"""Team names to ids for requests, with suggestions for names that do not resolve.

The directory is the alias and team tables. `t2b export` also writes it to the object store beside the
raw data (TEAM_DIRECTORY_KEY), where POST /predict reads it at its first request: no database layer to
import on a cold start (SQLAlchemy and the models are a fifth of it, #19).
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import InvalidInput
from shared.storage import ObjectNotFound, ObjectStore
from shared.team_names import normalise_name

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("time2bet.serving.teams")

TEAM_DIRECTORY_KEY = "raw/team_directory.json"


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
        """The directory as the store has it now."""
        from sqlalchemy import select

        from shared.db.models import Team, TeamAlias

        with engine.connect() as connection:
            aliases = {
                alias: team_id for alias, team_id in connection.execute(select(TeamAlias.alias, TeamAlias.team_id))
            }
            names = {team_id: name for team_id, name in connection.execute(select(Team.id, Team.name))}
        return cls(aliases, names)

    @classmethod
    def read(cls, store: ObjectStore) -> TeamDirectory | None:
        """The directory as of the last export, or None when no export wrote a readable one."""
        try:
            written = json.loads(store.get_bytes(TEAM_DIRECTORY_KEY))
            return cls(written["by_alias"], {int(team_id): name for team_id, name in written["names"].items()})
        except ObjectNotFound:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # the database answers instead
            log.warning("unreadable team directory %s (%s): the database's is used", TEAM_DIRECTORY_KEY, exc)
            return None

    def write(self, store: ObjectStore) -> None:
        body = json.dumps({"by_alias": self.by_alias, "names": self.names}, sort_keys=True).encode()
        store.put_bytes(TEAM_DIRECTORY_KEY, body, content_type="application/json")

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
