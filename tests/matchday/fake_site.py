"""A local stand-in for WhoScored on a match day: the one thing these tests mock.

It serves one match's live match centre at whatever moment the test sets (kick-off + 10', half time,
full time), in the shape of the real page (NOTES §3.4: `matchheader` + `args.matchCentreData`; the
real sample is tests/scraping/samples/match_1650630_live.html.gz), and one match's preview at whatever
version the test sets, built from the preview page the scraper's tests use (tests/scraping/pages/
preview.html, NOTES §3.5). Every path asked for is logged, so a test can say what a tick requested.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.scraping.fake_site import PAGES

_LIVE = re.compile(r"^/Matches/(\d+)/Live$")
_PREVIEW = re.compile(r"^/Matches/(\d+)/Preview$")
PREVIEW_PAGE = (PAGES / "preview.html").read_text()
PREVIEW_MATCH_ID = 1485171  # the match the preview page is about


@dataclass(frozen=True)
class Moment:
    """What the match centre shows at one moment of a match."""

    status_code: int  # WhoScored's: 3 in play (our reading, shared/scraping/records.py), 6 full time
    elapsed: str  # "10'", "HT", "FT"
    home_goals: int
    away_goals: int
    half_time: str = ""  # "1 : 0" once the first half is over
    away_cards: tuple[str, ...] = ()  # "Yellow", "SecondYellow", "Red"
    events: int = 1  # how long the event list is


TEN_MINUTES = Moment(status_code=3, elapsed="10'", home_goals=1, away_goals=0)
HALF_TIME = Moment(
    status_code=3, elapsed="HT", home_goals=1, away_goals=1, half_time="1 : 1", away_cards=("Red",), events=40
)
FULL_TIME = Moment(
    status_code=6, elapsed="FT", home_goals=2, away_goals=1, half_time="1 : 1", away_cards=("Red",), events=90
)


def live_page(match_id: int, home: tuple[int, str], away: tuple[int, str], moment: Moment) -> str:
    score = f"{moment.home_goals} : {moment.away_goals}"

    def team(side: str, team_id: int, name: str, goals: int, cards: tuple[str, ...]) -> dict[str, Any]:
        return {
            "teamId": team_id,
            "name": name,
            "field": side,
            "scores": {"running": goals},
            "formations": [{"formationName": "4231"}],
            "stats": {"possession": {"1": 50}},
            "incidentEvents": [
                {"type": {"value": 17, "displayName": "Card"}, "cardType": {"displayName": card}} for card in cards
            ],
            "players": [],
        }

    data = {
        "startTime": "2025-12-06T15:00:00",
        "score": score,
        "htScore": moment.half_time,
        "ftScore": score if moment.status_code == 6 else "",
        "statusCode": moment.status_code,
        "elapsed": moment.elapsed,
        "venueName": "Test Stadium",
        "referee": {"name": "Michael Oliver"},
        "home": team("home", *home, moment.home_goals, ()),
        "away": team("away", *away, moment.away_goals, moment.away_cards),
        "events": [{"id": float(i), "minute": i, "type": {"displayName": "Pass"}} for i in range(moment.events)],
    }
    return f"""<!DOCTYPE html><html><head><title>match centre (test double)</title>
<script>var require = {{config: {{params: {{}}}}}};</script></head><body>
<script>
  require.config.params['matchheader'] = {{
    input: [{home[0]},{away[0]},{json.dumps(home[1])},{json.dumps(away[1])},'06/12/2025 15:00:00',
            '06/12/2025 00:00:00',{moment.status_code},{json.dumps(moment.elapsed)},'{moment.half_time}','',,,
            '{score}','England','England'],
    matchId: {match_id}
  }};
  require.config.params["args"] = {{
    matchId:{match_id},
    matchCentreData: {json.dumps(data)},
    matchCentreEventTypeJson: {{"shotSixYardBox":0}},
    formationIdNameMappings:{{"8":"4231"}}
  }};
</script></body></html>"""


def preview_page(version: int) -> str:
    """Version 1 is the page as saved; version 2 has Son dropped for Lucas Moura and a third home absentee."""
    if version == 1:
        return PREVIEW_PAGE
    changed = (
        PREVIEW_PAGE.replace("/players/91924/show/x", "/players/101404/show/x")
        .replace('data-playerid="91924"', 'data-playerid="101404"')
        .replace("Son Heung-Min", "Lucas Moura")
    )
    return changed.replace(
        "</tbody></table>\n  </div>\n  <div>",
        """  <tr><td class="pn"><a class="player-link" href="/players/91924/show/son">Son Heung-Min</a></td>
          <td class="reason"><span title="injured doubtful"></span></td><td class="confirmed">Doubtful</td>
          <td class="rating">7.20</td></tr>
    </tbody></table>
  </div>
  <div>""",
        1,
    )


@dataclass
class MatchDaySite:
    live_match: int
    home: tuple[int, str]
    away: tuple[int, str]
    moment: Moment = TEN_MINUTES
    preview_version: int = 1
    blocked: bool = False  # every page is the real Incapsula block page
    requests: list[str] = field(default_factory=list)

    @property
    def pages(self) -> list[str]:
        """The match pages asked for (a block page's own resources left out)."""
        return [path for path in self.requests if path.startswith("/Matches/")]

    def response(self, path: str, cookie: str = "") -> tuple[int, str, str]:
        if path != "/favicon.ico":  # the browser's own request, not the scraper's
            self.requests.append(path)
        if self.blocked:
            return 200, "text/html", (PAGES.parent / "samples" / "incapsula_block.html").read_text()
        if (live := _LIVE.match(path)) and int(live.group(1)) == self.live_match:
            return 200, "text/html", live_page(self.live_match, self.home, self.away, self.moment)
        if (preview := _PREVIEW.match(path)) and int(preview.group(1)) == PREVIEW_MATCH_ID:
            return 200, "text/html", preview_page(self.preview_version)
        return 404, "text/html", "<html><body><h1>404</h1></body></html>"
