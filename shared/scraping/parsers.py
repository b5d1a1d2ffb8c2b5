"""Offline parsers, one per WhoScored page type (NOTES §3), from page source to typed records.

Each parser is split in two: locating the embedded value in the source, and turning the value into
records. The second half is shared with the live path, where the browser evaluates the page's JS
variable and hands over the same value.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any, TypeVar

from lxml import html
from pydantic import BaseModel, ValidationError

from shared.scraping import jsliteral
from shared.scraping.errors import EmptyPageData, PageShapeError
from shared.scraping.jsliteral import JsSyntaxError, JsValue
from shared.scraping.records import (
    FixtureFeed,
    LineupPlayer,
    MatchCentre,
    MatchHeader,
    MatchPreview,
    MissingPlayer,
    PredictedPlayer,
    Region,
    Score,
    SeasonOption,
    StageCalendar,
    StageOption,
    StandingRecord,
    StandingsTable,
    TeamMatchStats,
    TournamentPage,
)

RecordT = TypeVar("RecordT", bound=BaseModel)

_URL_ID = {
    name: re.compile(rf"{name}/(\d+)", re.IGNORECASE)
    for name in ("regions", "tournaments", "seasons", "stages", "matches", "players")
}
_BROWSER_DATE = re.compile(r"^\w{3} (\w{3}) (\d{1,2}) (\d{4})")  # "Sun May 23 2021 00:00:00 GMT+0200 (…)"


def url_id(url: str, segment: str) -> int | None:
    """`url_id('/Regions/252/Tournaments/2', 'tournaments')` → 2."""
    match = _URL_ID[segment].search(url)
    return int(match.group(1)) if match else None


def _validate(model: type[RecordT], value: Any, page_type: str) -> RecordT:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise PageShapeError(page_type, location, first["msg"]) from None


def _literal(source: str, marker: str, page_type: str, name: str, start: int = 0) -> JsValue:
    try:
        value = jsliteral.find_literal(source, marker, start)
    except JsSyntaxError as exc:
        raise PageShapeError(page_type, name, str(exc)) from None
    if value is None:
        raise PageShapeError(page_type, name)
    return value


def _document(source: str, page_type: str) -> html.HtmlElement:
    try:
        return html.document_fromstring(source.encode("utf-8"), parser=html.HTMLParser(encoding="utf-8"))
    except Exception as exc:  # lxml raises several types for unusable input; all mean "not a page"
        raise PageShapeError(page_type, "HTML document", str(exc)) from None


# --- §3.1 regions -------------------------------------------------------------------------------


def regions_from_value(value: JsValue) -> list[Region]:
    if not isinstance(value, list) or not value:
        raise PageShapeError("region list", "allRegions")
    return [_validate(Region, item, "region list") for item in value]


def parse_regions(source: str) -> list[Region]:
    return regions_from_value(_literal(source, jsliteral.var_marker("allRegions"), "region list", "allRegions"))


# --- §3.2 tournament and season pages -----------------------------------------------------------


def parse_tournament_page(source: str) -> TournamentPage:
    """The tournament page and a season page have the same markup."""
    page_type = "tournament/season"
    document = _document(source, page_type)
    seasons = [
        SeasonOption(
            season_id=season_id,
            name=option.text_content().strip(),
            url=option.get("value", ""),
            selected=option.get("selected") is not None,
        )
        for option in document.xpath("//select[@id='seasons']/option")
        if (season_id := url_id(option.get("value", ""), "seasons")) is not None
    ]
    if not seasons:
        raise PageShapeError(page_type, "select#seasons options")
    fixtures_hrefs = document.xpath("//a[normalize-space(string(.))='Fixtures']/@href")
    stages = [
        StageOption(stage_id=stage_id, name=option.text_content().strip(), url=option.get("value", ""))
        for option in document.xpath("//select[contains(@id, 'stages')]/option")
        if (stage_id := url_id(option.get("value", ""), "stages")) is not None
    ]
    args = _optional_literal(source, jsliteral.require_param_marker("args"))
    reference_url = next((s.url for s in seasons if s.selected), seasons[0].url)
    page = TournamentPage(
        region_id=url_id(reference_url, "regions"),
        tournament_id=url_id(reference_url, "tournaments"),
        seasons=seasons,
        fixtures_stage_id=next((i for h in fixtures_hrefs if (i := url_id(h, "stages")) is not None), None),
        stages=stages,
        args_stage_id=args.get("stageId") if isinstance(args, dict) else None,
        standings=parse_standings(source),
        calendar=_optional_calendar(source),
    )
    if not page.stage_ids:
        raise PageShapeError(page_type, "stage id (Fixtures link, stages select or args.stageId)")
    return page


def _optional_literal(source: str, marker: str) -> JsValue | None:
    try:
        return jsliteral.find_literal(source, marker)
    except JsSyntaxError:
        return None


def _optional_calendar(source: str) -> StageCalendar | None:
    value = _optional_literal(source, jsliteral.var_marker("wsCalendar"))
    return calendar_from_value(value) if value is not None else None


# Positions in a 41-element `standings` row (NOTES §3.2).
_STANDING_FIELDS = (
    "stage_id",
    "team_id",
    "team_name",
    "rank",
    "played",
    "won",
    "drawn",
    "lost",
    "goals_for",
    "goals_against",
    "goal_difference",
    "points",
)


def parse_standings(source: str) -> list[StandingsTable]:
    try:
        pushed = jsliteral.find_all_literals(source, r"\btables\.push\(\s*")
    except JsSyntaxError as exc:
        raise PageShapeError("tournament/season", "tables.push(...) standings", str(exc)) from None
    return [standings_from_value(table) for table in pushed]


def standings_from_value(table: JsValue) -> StandingsTable:
    if not isinstance(table, dict) or not isinstance(table.get("standings"), list):
        raise PageShapeError("tournament/season", "tables.push(...).standings")
    rows = []
    for row in table["standings"]:
        if not isinstance(row, list) or len(row) < len(_STANDING_FIELDS):
            raise PageShapeError("tournament/season", "standings row", f"{str(row)[:80]}")
        rows.append(_validate(StandingRecord, dict(zip(_STANDING_FIELDS, row, strict=False)), "tournament/season"))
    return StandingsTable(stage_id=table.get("stageId"), group_index=table.get("standingsGroupIdx"), rows=rows)


# --- §3.3 stage calendar ------------------------------------------------------------------------


def _calendar_day(value: JsValue) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and (match := _BROWSER_DATE.match(value)):
        return datetime.strptime(" ".join(match.groups()), "%b %d %Y").date()
    return None


def calendar_from_value(value: JsValue) -> StageCalendar:
    """`wsCalendar`, as a literal or as the browser evaluates it (string keys, dates as strings)."""
    if not isinstance(value, dict) or not isinstance(value.get("mask"), dict):
        raise PageShapeError("stage calendar", "wsCalendar.mask")
    try:
        months = sorted(
            {
                (int(year), int(month0) + 1)
                for year, by_month in value["mask"].items()
                for month0, days in by_month.items()
                if days
            }
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise PageShapeError("stage calendar", "wsCalendar.mask", str(exc)) from None
    stage_id = value.get("stageId")
    return StageCalendar(
        stage_id=int(stage_id) if stage_id is not None else None,
        first_day=_calendar_day(value.get("min")),
        last_day=_calendar_day(value.get("max")),
        months=months,
    )


def parse_stage_calendar(source: str) -> StageCalendar:
    return calendar_from_value(_literal(source, jsliteral.var_marker("wsCalendar"), "stage calendar", "wsCalendar"))


# --- §3.3 fixture feed --------------------------------------------------------------------------


def fixture_feed_from_value(value: JsValue) -> FixtureFeed:
    return _validate(FixtureFeed, value, "fixture feed")


def parse_fixture_feed(text: str) -> FixtureFeed:
    """The feed's JSON, raw or as the browser shows it (wrapped in `<pre>`/`<body>`)."""
    body = text.strip()
    if not body.startswith(("{", "[")):
        document = _document(text, "fixture feed")
        pre = document.xpath("//pre")
        body = (pre[0] if pre else document).text_content().strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PageShapeError("fixture feed", "JSON body", str(exc)) from None
    return fixture_feed_from_value(value)


# --- §3.4 match centre --------------------------------------------------------------------------

_HEADER_FIELDS = (
    "home_team_id",
    "away_team_id",
    "home_team_name",
    "away_team_name",
    "kickoff",
    "day",
    "status_code",
    "elapsed",
    "half_time",
    "full_time",
    "extra_time",
    "penalties",
    "score",
    "home_country",
    "away_country",
)


def score_from_text(text: JsValue) -> Score | None:
    """`'2 : 1'` → Score(home=2, away=1); empty or missing → None."""
    if not isinstance(text, str) or ":" not in text:
        return None
    home, away = (part.strip() for part in text.split(":", 1))
    return Score(home=int(home), away=int(away)) if home.isdigit() and away.isdigit() else None


def _local_datetime(text: JsValue) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    for pattern in ("%d/%m/%Y %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def header_from_value(value: JsValue, page_type: str) -> MatchHeader:
    """`matchheader` = {input: [positional, with elisions], matchId}."""
    positional = value.get("input") if isinstance(value, dict) else None
    if not isinstance(positional, list) or len(positional) < 4 or None in positional[:4]:
        raise PageShapeError(page_type, "matchheader.input")
    fields = dict(zip(_HEADER_FIELDS, positional + [None] * len(_HEADER_FIELDS), strict=False))
    return _validate(
        MatchHeader,
        {
            **{
                k: fields[k]
                for k in (
                    "home_team_id",
                    "away_team_id",
                    "home_team_name",
                    "away_team_name",
                    "status_code",
                    "elapsed",
                    "home_country",
                    "away_country",
                )
            },
            "match_id": value.get("matchId"),
            "kickoff_local": _local_datetime(fields["kickoff"]),
            "half_time": score_from_text(fields["half_time"]),
            "full_time": score_from_text(fields["full_time"]),
            "score": score_from_text(fields["score"]),
        },
        page_type,
    )


def _series_total(stats: dict[str, Any], name: str) -> float:
    # A per-minute series absent from a non-empty stats block means no such event in the match.
    series = stats.get(name)
    return float(sum(series.values())) if isinstance(series, dict) else 0.0


def _final_value(series: Any) -> float | None:
    if not isinstance(series, dict) or not series:
        return None
    return float(series[max(series, key=lambda minute: float(minute))])


def _percentage(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _team_stats(team: dict[str, Any], opponent: dict[str, Any], side: str) -> TeamMatchStats:
    stats = team.get("stats") or {}
    opponent_stats = opponent.get("stats") or {}
    cards = [
        event.get("cardType", {}).get("displayName")
        for event in team.get("incidentEvents") or []
        if isinstance(event.get("cardType"), dict)
    ]
    possession = _series_total(stats, "possession")
    formations = team.get("formations") or []
    scores = team.get("scores") or {}
    has_stats = bool(stats)
    rating = _final_value(stats.get("ratings"))
    return _validate(
        TeamMatchStats,
        {
            "team_id": team.get("teamId"),
            "name": team.get("name"),
            "side": side,
            "manager": team.get("managerName"),
            "formation": formations[0].get("formationName") if formations else None,
            "goals": scores.get("fulltime"),
            "half_time_goals": scores.get("halftime"),
            "possession": _percentage(possession, possession + _series_total(opponent_stats, "possession")),
            "shots": int(_series_total(stats, "shotsTotal")) if has_stats else None,
            "shots_on_target": int(_series_total(stats, "shotsOnTarget")) if has_stats else None,
            "passes": int(_series_total(stats, "passesTotal")) if has_stats else None,
            "pass_accuracy": _percentage(_series_total(stats, "passesAccurate"), _series_total(stats, "passesTotal")),
            "corners": int(_series_total(stats, "cornersTotal")) if has_stats else None,
            "fouls": int(_series_total(stats, "foulsCommited")) if has_stats else None,
            "yellow_cards": cards.count("Yellow"),
            "red_cards": cards.count("SecondYellow") + cards.count("Red"),
            "rating": round(rating, 2) if rating is not None else None,
        },
        "match centre",
    )


def match_centre_from_values(match_id: int | None, header: JsValue | None, data: JsValue) -> MatchCentre:
    """Records from `matchheader` (may be absent) and `args.matchCentreData` (must be there)."""
    if not isinstance(data, dict) or not data:
        raise EmptyPageData("match centre", "args.matchCentreData", "null or empty")
    for side in ("home", "away"):
        if not isinstance(data.get(side), dict):
            raise PageShapeError("match centre", f"matchCentreData.{side}")
    parsed_header = header_from_value(header, "match centre") if header is not None else None
    match_id = match_id or (parsed_header.match_id if parsed_header else None)
    if match_id is None:
        raise PageShapeError("match centre", "matchId")
    referee = data.get("referee") or {}
    events = data.get("events")
    if not isinstance(events, list):
        raise PageShapeError("match centre", "matchCentreData.events")
    return _validate(
        MatchCentre,
        {
            "match_id": match_id,
            "header": parsed_header,
            "status_code": data.get("statusCode"),
            "elapsed": data.get("elapsed") or None,
            "kickoff_local": _local_datetime(data.get("startTime")),
            "score": score_from_text(data.get("score")),
            "half_time": score_from_text(data.get("htScore")),
            "full_time": score_from_text(data.get("ftScore")),
            "referee": referee.get("name") or None,
            "venue": data.get("venueName") or None,
            "attendance": _attendance(data.get("attendance")),
            "home": _team_stats(data["home"], data["away"], "home"),
            "away": _team_stats(data["away"], data["home"], "away"),
            "events": events,
        },
        "match centre",
    )


def parse_match_centre(source: str) -> MatchCentre:
    args_marker = re.search(jsliteral.require_param_marker("args"), source)
    if args_marker is None:
        raise PageShapeError("match centre", "require.config.params['args']")
    try:
        header = jsliteral.find_literal(source, jsliteral.require_param_marker("matchheader"))
        match_id = jsliteral.find_literal(source, jsliteral.key_marker("matchId"), args_marker.end())
        data = jsliteral.find_json_after(source, jsliteral.key_marker("matchCentreData"), args_marker.end())
    except JsSyntaxError as exc:
        raise PageShapeError("match centre", "args", str(exc)) from None
    return match_centre_from_values(match_id if isinstance(match_id, int) else None, header, data)


def _attendance(value: JsValue) -> int | None:
    """0 is a real attendance (matches behind closed doors); only a missing or empty value is unknown."""
    return None if value in (None, "") else value  # type: ignore[return-value]  # the record validates it


# --- §3.5 preview -------------------------------------------------------------------------------


def _predicted(value: JsValue, name: str) -> list[PredictedPlayer]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PageShapeError("preview", f"matchprediction.{name}")
    return [_validate(PredictedPlayer, item, "preview") for item in value]


def _predicted_side(document: html.HtmlElement, side: str) -> tuple[str | None, list[LineupPlayer]]:
    """Formation and predicted XI of one side of `#preview-lineups` (NOTES §3.5; checked against a saved
    real page, tests/scraping/samples): the formation in `.pitch-formation-header .{side}`, the XI as
    `ul.player` items of `.pitch .{side}`, each with `data-playerid` and a title "Full Name(POS)" (the
    link shows the surname only)."""
    lineups = "//*[@id='preview-lineups']"
    formation = document.xpath(
        f"string({lineups}//*[{_has_class('pitch-formation-header')}]/*[{_has_class(side)}]"
        f"//*[{_has_class('formation-label')}])"
    ).strip()
    players = []
    for item in document.xpath(f"{lineups}//*[{_has_class('pitch')}]/*[{_has_class(side)}]/*[{_has_class('player')}]"):
        link = item.xpath(f".//a[{_has_class('player-link')}]")
        data_id = item.get("data-playerid", "")
        player_id = int(data_id) if data_id.isdigit() else url_id(link[0].get("href", ""), "players") if link else None
        title = re.fullmatch(r"\s*(.*?)\s*\(([A-Za-z]+)\)\s*", item.get("title", ""))
        name = title.group(1) if title else (link[0].text_content().strip() if link else "")
        if player_id is None or not name:
            raise PageShapeError("preview", f"#preview-lineups .pitch .{side} .player")
        players.append(LineupPlayer(player_id=player_id, name=name, position=title.group(2) if title else None))
    return formation or None, players


def _has_class(name: str) -> str:
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _missing_players(document: html.HtmlElement, column: int) -> list[MissingPlayer]:
    rows = document.xpath(f"//*[@id='missing-players']/div[{column}]//table[{_has_class('grid')}]/tbody/tr")
    players = []
    for row in rows:
        links = row.xpath(".//td[contains(@class, 'pn')]//a[contains(@class, 'player-link')]")
        if not links:
            continue  # a "no missing players" row
        reason = row.xpath(".//td[contains(@class, 'reason')]//span/@title")
        status = row.xpath("string(.//td[contains(@class, 'confirmed')])").strip()
        rating = row.xpath("string(.//td[contains(@class, 'rating')])").strip()
        players.append(
            MissingPlayer(
                player_id=url_id(links[0].get("href", ""), "players"),
                name=links[0].text_content().strip(),
                reason=reason[0] if reason else None,
                status=status or None,
                rating=float(rating) if re.fullmatch(r"\d+(\.\d+)?", rating) else None,
            )
        )
    return players


def parse_preview(source: str) -> MatchPreview:
    header = header_from_value(
        _literal(source, jsliteral.require_param_marker("matchheader"), "preview", "matchheader"), "preview"
    )
    try:
        prediction = jsliteral.find_literal(source, jsliteral.require_param_marker("matchprediction")) or {}
    except JsSyntaxError as exc:
        raise PageShapeError("preview", "matchprediction", str(exc)) from None
    if not isinstance(prediction, dict):
        raise PageShapeError("preview", "matchprediction")
    header_json = prediction.get("matchHeaderJson") or {}
    document = _document(source, "preview")
    home_formation, home_lineup = _predicted_side(document, "home")
    away_formation, away_lineup = _predicted_side(document, "away")
    return MatchPreview(
        match_id=header.match_id or header_json.get("Id"),
        header=header,
        venue=header_json.get("VenueName") or None,
        home_formation=home_formation,
        away_formation=away_formation,
        home_lineup=home_lineup,
        away_lineup=away_lineup,
        home_squad=_predicted(prediction.get("homePlayers"), "homePlayers"),
        away_squad=_predicted(prediction.get("awayPlayers"), "awayPlayers"),
        home_missing=_missing_players(document, 2),
        away_missing=_missing_players(document, 3),
    )
