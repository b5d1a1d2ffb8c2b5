"""A local stand-in for www.whoscored.com: WhoScored is the one thing these tests mock.

It serves the test pages in this package's `pages/` directory, the fixture feed (the real January 2021
sample for `?d=202101`, a small one of our own for `?d=202012`), and match-centre pages it renders
from the feeds' matches. Paths can be switched to the real Incapsula block page to test blocking, and
HTML pages can carry WhoScored's consent dialog: kept hidden in the DOM, or shown until agreed (the
AGREE button sets a cookie and reports the click to `/consent/agree`).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGES = Path(__file__).with_name("pages")

_SEASON_PAGE = re.compile(r"^/Regions/252/Tournaments/2(/Seasons/8228(/[\w-]+)?)?/?$", re.IGNORECASE)
_STAGE_PAGE = re.compile(r"^/Regions/252/Tournaments/2/Seasons/8228/Stages/18685/?$", re.IGNORECASE)
_FEED = re.compile(r"^/tournaments/18685/data/\?d=(\d{6})$")
_MATCH_CENTRE = re.compile(r"^/Matches/(\d+)/Live$")


def match_centre_page(match: dict[str, Any]) -> str:
    """A match-centre page in WhoScored's shape (NOTES §3.4), with round numbers for the stats."""
    home_goals, away_goals = match["homeScore"], match["awayScore"]
    score = f"{home_goals} : {away_goals}"

    def team(side: str, possession: list[int], cards: list[str]) -> dict[str, Any]:
        return {
            "teamId": match[f"{side}TeamId"],
            "name": match[f"{side}TeamName"],
            "field": side,
            "managerName": f"{side} manager",
            "countryName": "England",
            "averageAge": 27.0,
            "scores": {"halftime": 0, "fulltime": match[f"{side}Score"], "running": match[f"{side}Score"]},
            "formations": [
                {
                    "formationId": 8,
                    "formationName": "4231",
                    "period": 16,
                    "startMinuteExpanded": 0,
                    "endMinuteExpanded": 95,
                    "playerIds": [],
                    "formationPositions": [],
                }
            ],
            "stats": {
                "possession": {"1": possession[0], "2": possession[1]},
                "shotsTotal": {"10": 3, "70": 2},
                "shotsOnTarget": {"10": 2},
                "passesTotal": {"1": 200, "2": 200},
                "passesAccurate": {"1": 170, "2": 150},
                "cornersTotal": {"30": 4},
                "foulsCommited": {"40": 9},
                "ratings": {"0": 6.0, "45": 6.5, "95": 6.91},
            },
            "incidentEvents": [
                {"type": {"value": 17, "displayName": "Card"}, "cardType": {"value": 31, "displayName": card}}
                for card in cards
            ],
            "players": [],
            "shotZones": {},
        }

    data = {
        "playerIdNameDictionary": {},
        "attendance": 0,
        "venueName": "Test Stadium",
        "referee": {"officialId": 1, "firstName": "Michael", "lastName": "Oliver", "name": "Michael Oliver"},
        "startTime": match["startTime"],
        "score": score,
        "htScore": "0 : 0",
        "ftScore": score,
        "etScore": "",
        "pkScore": "",
        "statusCode": 6,
        "periodCode": 7,
        "elapsed": "FT",
        "home": team("home", [30, 30], ["Yellow", "Yellow"]),
        "away": team("away", [20, 20], ["Red"]),
        "events": [
            {
                "id": 1.0,
                "eventId": 1,
                "minute": 0,
                "second": 0,
                "teamId": match["homeTeamId"],
                "x": 50.0,
                "y": 50.0,
                "period": {"value": 1, "displayName": "FirstHalf"},
                "type": {"value": 32, "displayName": "Start"},
                "qualifiers": [],
            }
        ],
    }
    return f"""<!DOCTYPE html><html><head><title>match centre (test double)</title>
<script>var require = {{config: {{params: {{}}}}}};</script></head><body>
<script>
  require.config.params['matchheader'] = {{
    input: [{match["homeTeamId"]},{match["awayTeamId"]},{json.dumps(match["homeTeamName"])},
            {json.dumps(match["awayTeamName"])},'01/01/2021 17:30:00','01/01/2021 00:00:00',6,'FT','0 : 0',
            '{score}',,,'{score}','England','England'],
    matchId: {match["id"]}
  }};
  require.config.params["args"] = {{
    matchId:{match["id"]},
    matchCentreData: {json.dumps(data)},
    matchCentreEventTypeJson: {{"shotSixYardBox":0}},
    formationIdNameMappings:{{"8":"4231"}}
  }};
</script></body></html>"""


_CONSENT_DIALOG = """<div id="qc-cmp2" style="position:fixed;inset:0;background:#fff;{style}">
<p>We value your privacy</p><button mode="primary" onclick="document.cookie='consent=1; path=/';
fetch('/consent/agree'); document.getElementById('qc-cmp2').remove();"><span>AGREE</span></button></div>"""


@dataclass
class FakeWhoScored:
    january_feed: Path
    blocked_paths: set[str] = field(default_factory=set)
    blocked_once: set[str] = field(default_factory=set)
    consent: str = "none"  # "none", "hidden" (in the DOM, not shown) or "until-agreed"
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.feeds = {
            "202012": (PAGES / "feed_stage18685_2020-12.json").read_text(),
            "202101": self.january_feed.read_text(),
        }
        self.matches = {
            m["id"]: m for feed in self.feeds.values() for t in json.loads(feed)["tournaments"] for m in t["matches"]
        }
        self.block_page = (self.january_feed.parent / "incapsula_block.html").read_text()

    def response(self, path: str, cookie: str = "") -> tuple[int, str, str]:
        status, content_type, body = self._page(path)
        if content_type == "text/html" and "<body>" in body and self._shows_consent(cookie):
            style = "display:none" if self.consent == "hidden" else ""
            body = body.replace("<body>", "<body>" + _CONSENT_DIALOG.format(style=style), 1)
        return status, content_type, body

    def _shows_consent(self, cookie: str) -> bool:
        return self.consent == "hidden" or (self.consent == "until-agreed" and "consent=1" not in cookie)

    def _page(self, path: str) -> tuple[int, str, str]:
        self.requests.append(path)
        if path in self.blocked_once:
            self.blocked_once.discard(path)
            return 200, "text/html", self.block_page
        if path in self.blocked_paths:
            return 200, "text/html", self.block_page
        if path in {"/", ""}:
            return 200, "text/html", (PAGES / "home.html").read_text()
        if _STAGE_PAGE.match(path):
            return 200, "text/html", (PAGES / "stage.html").read_text()
        if _SEASON_PAGE.match(path):
            return 200, "text/html", (PAGES / "tournament.html").read_text()
        if (feed := _FEED.match(path)) and feed.group(1) in self.feeds:
            return 200, "application/json", self.feeds[feed.group(1)]
        if (centre := _MATCH_CENTRE.match(path)) and int(centre.group(1)) in self.matches:
            return 200, "text/html", match_centre_page(self.matches[int(centre.group(1))])
        return 404, "text/html", "<html><body><h1>404</h1></body></html>"


def serve(site: FakeWhoScored) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = site.response(self.path, self.headers.get("Cookie", ""))
            payload = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
