"""A pasted or uploaded list of matches -> prediction requests, with a reason for each line that is not one.

One match a line, comma-separated: `home team, away team, kick-off[, league]`. The kick-off is ISO 8601
(`2022-04-19T19:00`, read as UTC without an offset, or a date alone for 15:00 UTC). A header line naming
`home_team` is skipped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from ui.api import MatchRequest

DEFAULT_KICKOFF = time(15, 0)
MAX_MATCHES = 200  # each is one request and one poll: a longer list belongs to `t2b score`


@dataclass
class ParsedList:
    matches: list[MatchRequest] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_matches(text: str) -> ParsedList:
    parsed = ParsedList()
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or cells[0].lower() == "home_team":
            continue
        if len(cells) not in (3, 4) or not all(cells[:3]):
            parsed.problems.append(f"line {number}: expected `home, away, kick-off[, league]`, got {','.join(row)!r}")
            continue
        try:
            kickoff = _kickoff(cells[2])
        except ValueError:
            parsed.problems.append(f"line {number}: kick-off {cells[2]!r} is not an ISO date or date-time")
            continue
        league = cells[3].upper() if len(cells) == 4 and cells[3] else None
        parsed.matches.append(MatchRequest(cells[0], cells[1], kickoff, league))
    if len(parsed.matches) > MAX_MATCHES:
        parsed.problems.append(f"{len(parsed.matches)} matches: only the first {MAX_MATCHES} are sent")
        parsed.matches = parsed.matches[:MAX_MATCHES]
    return parsed


def _kickoff(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if len(text) <= len("2022-04-19"):
        moment = datetime.combine(moment.date(), DEFAULT_KICKOFF)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
