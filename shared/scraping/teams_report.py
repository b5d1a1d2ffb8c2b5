"""Teams known to only one data source: candidates for a new entry in the curated alias table."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel
from sqlalchemy import Engine, select

from shared.db.models import Team, TeamSourceId
from shared.db.session import transaction

COMPARED_SOURCES = ("football-data", "whoscored")


class UnmatchedTeam(BaseModel):
    team_id: int
    name: str
    source: str
    source_names: list[str]


def unmatched_teams(engine: Engine, sources: tuple[str, ...] = COMPARED_SOURCES) -> list[UnmatchedTeam]:
    """Teams that one of `sources` knows and the others do not: no alias joined them."""
    with transaction(engine) as session:
        rows = session.execute(
            select(Team.id, Team.name, TeamSourceId.source, TeamSourceId.source_name)
            .join(TeamSourceId, TeamSourceId.team_id == Team.id)
            .where(TeamSourceId.source.in_(sources))
        ).all()
    names: dict[int, str] = {}
    spellings: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for team_id, name, source, source_name in rows:
        names[team_id] = name
        spellings[team_id][source].add(source_name)
    return sorted(
        (
            UnmatchedTeam(team_id=team_id, name=names[team_id], source=source, source_names=sorted(spelled))
            for team_id, by_source in spellings.items()
            if len(by_source) == 1
            for source, spelled in by_source.items()
        ),
        key=lambda team: (team.source, team.name),
    )
