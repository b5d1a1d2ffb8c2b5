"""Reading each page type from a loaded browser page: the page's own JS values where the browser can
evaluate them, the offline parsers on the page source otherwise (NOTES §2 strategies a and b)."""

from __future__ import annotations

from shared.scraping import parsers
from shared.scraping.driver import BrowserSession
from shared.scraping.records import FixtureFeed, MatchCentre, MatchPreview, Region, StageCalendar, TournamentPage

_MATCH_CENTRE_VALUES = """(function () {
  try {
    var params = require.config.params;
    return {args: params['args'], header: params['matchheader'] || null};
  } catch (e) { return null; }
})()"""


def _defined(name: str) -> str:
    return f"(typeof {name} === 'undefined' ? null : {name})"


def read_regions(page: BrowserSession) -> list[Region]:
    value = page.evaluate(_defined("allRegions"))
    return parsers.regions_from_value(value) if value else parsers.parse_regions(page.source)


def read_tournament_page(page: BrowserSession) -> TournamentPage:
    return parsers.parse_tournament_page(page.source)  # the season list is markup, not a JS value


def read_stage_calendar(page: BrowserSession) -> StageCalendar:
    value = page.evaluate(_defined("wsCalendar"))
    return parsers.calendar_from_value(value) if value else parsers.parse_stage_calendar(page.source)


def read_fixture_feed(page: BrowserSession) -> FixtureFeed:
    return parsers.parse_fixture_feed(page.source)


def read_match_centre(page: BrowserSession) -> MatchCentre:
    values = page.evaluate(_MATCH_CENTRE_VALUES)
    args = values.get("args") if isinstance(values, dict) else None
    if isinstance(args, dict) and "matchCentreData" in args:
        return parsers.match_centre_from_values(args.get("matchId"), values.get("header"), args["matchCentreData"])
    return parsers.parse_match_centre(page.source)


def read_preview(page: BrowserSession) -> MatchPreview:
    return parsers.parse_preview(page.source)  # line-ups are JSON.parse blocks, missing players markup
