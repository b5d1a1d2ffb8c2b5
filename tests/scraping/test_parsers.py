"""Parsers against the real WhoScored samples and against our own pages in the documented shapes."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from shared.db.models import MatchStatus
from shared.scraping.blocks import block_reason, has_consent_banner
from shared.scraping.errors import EmptyPageData, PageShapeError
from shared.scraping.parsers import (
    calendar_from_value,
    match_centre_from_values,
    parse_fixture_feed,
    parse_match_centre,
    parse_preview,
    parse_regions,
    parse_stage_calendar,
    parse_tournament_page,
)
from tests.scraping.fake_site import PAGES


def test_real_january_feed_has_50_finished_matches(samples: Path) -> None:
    feed = parse_fixture_feed((samples / "fixtures_stage18685_2021-01.json").read_text())
    assert len(feed.matches) == 50
    first = feed.matches[0]
    assert (first.id, first.home_team_name, first.away_team_name, first.home_score, first.away_score) == (
        1485321,
        "Everton",
        "West Ham",
        0,
        1,
    )
    assert first.start_time_utc == datetime(2021, 1, 1, 17, 30, tzinfo=UTC)
    assert first.state is MatchStatus.finished
    assert first.incidents[0].player_name == "Tomás Soucek"
    assert {m.state for m in feed.matches} == {MatchStatus.finished}


def test_feed_wrapped_in_html_by_the_browser(samples: Path) -> None:
    raw = (samples / "fixtures_stage18685_2021-01.json").read_text()
    wrapped = f"<html><head></head><body><pre>{raw.replace('&', '&amp;').replace('<', '&lt;')}</pre></body></html>"
    assert len(parse_fixture_feed(wrapped).matches) == 50


def test_real_match_centre(match_centre_sample: str) -> None:
    centre = parse_match_centre(match_centre_sample)
    assert centre.match_id == 1650630
    assert (centre.home.name, centre.away.name, centre.score.home, centre.score.away) == (
        "Barcelona",
        "Rayo Vallecano",
        0,
        0,
    )
    assert centre.header is not None and centre.header.full_time is not None
    assert centre.header.kickoff_local == datetime(2022, 8, 13, 20, 0)
    assert (centre.referee, centre.venue, centre.attendance) == (
        "Alejandro José Hernández Hernández",
        "Spotify Camp Nou",
        81104,
    )
    assert centre.state is MatchStatus.finished
    home, away = centre.home, centre.away
    assert (home.formation, away.formation) == ("433", "4231")
    assert (home.possession, away.possession) == (67.5, 32.5)
    assert (home.shots, home.shots_on_target, away.shots, away.shots_on_target) == (21, 6, 4, 2)
    assert (home.passes, home.pass_accuracy, away.passes, away.pass_accuracy) == (560, 87.3, 274, 69.7)
    assert (home.corners, away.corners, home.fouls, away.fouls) == (8, 0, 16, 14)
    assert (home.yellow_cards, home.red_cards, away.yellow_cards, away.red_cards) == (2, 1, 6, 0)
    assert (home.rating, away.rating) == (6.53, 6.64)
    assert len(centre.events) == 1465


def test_match_centre_without_data_is_empty_not_garbage() -> None:
    with pytest.raises(EmptyPageData):
        match_centre_from_values(1, None, None)
    with pytest.raises(PageShapeError, match="match centre"):
        parse_match_centre("<html><body>nothing here</body></html>")


def test_real_block_page_is_detected(samples: Path, match_centre_sample: str) -> None:
    assert block_reason((samples / "incapsula_block.html").read_text()) == "Incapsula"
    assert block_reason(match_centre_sample) is None
    assert block_reason((PAGES / "consent.html").read_text()) is None  # the fetcher judges consent dialogs
    assert has_consent_banner((PAGES / "consent.html").read_text())
    assert not has_consent_banner(match_centre_sample)
    assert block_reason("<html><title>Just a moment...</title></html>") == "Cloudflare"


def test_region_list() -> None:
    regions = parse_regions((PAGES / "home.html").read_text())
    england = next(r for r in regions if r.id == 252)
    assert (england.name, england.type, england.flg) == ("England", 0, "flg-gb-eng")
    assert [(t.id, t.name) for t in england.tournaments] == [(2, "Premier League"), (7, "Championship")]
    assert regions[0].type == 1


def test_tournament_page() -> None:
    page = parse_tournament_page((PAGES / "tournament.html").read_text())
    assert (page.region_id, page.tournament_id) == (252, 2)
    assert [s.name for s in page.seasons] == ["2021/2022", "2020/2021", "2019/2020"]
    assert page.selected_season is not None and page.selected_season.season_id == 8228
    assert (page.fixtures_stage_id, page.args_stage_id, page.stage_ids) == (18685, 18685, [18685])
    table = page.standings[0]
    assert table.stage_id == 18685
    assert [(r.team_name, r.rank, r.played, r.points, r.goal_difference) for r in table.rows] == [
        ("Man City", 1, 38, 86, 51),
        ("Man Utd", 2, 38, 74, 29),
    ]
    assert page.calendar is not None and page.calendar.months == [(2020, 12), (2021, 1)]


def test_season_page_with_stages() -> None:
    page = parse_tournament_page((PAGES / "season_with_stages.html").read_text())
    assert page.stage_ids == [18651, 18652, 18659]
    assert page.stages[0].name == "Champions League Group A"
    assert (page.fixtures_stage_id, page.args_stage_id) == (18652, 18652)
    assert page.standings[0].group_index == 1


def test_page_without_seasons_is_a_shape_error() -> None:
    with pytest.raises(PageShapeError, match=r"tournament/season page: missing or malformed select#seasons"):
        parse_tournament_page("<html><body><a href='/x'>Fixtures</a></body></html>")


def test_stage_calendar_literal_and_browser_value() -> None:
    calendar = parse_stage_calendar((PAGES / "stage.html").read_text())
    assert calendar.months == [(2020, 12), (2021, 1)]
    assert (calendar.first_day, calendar.last_day, calendar.stage_id) == (date(2020, 12, 29), date(2021, 1, 30), 18685)
    evaluated = {
        "min": "Sun Sep 12 2020 00:00:00 GMT+0200 (Central European Summer Time)",
        "mask": {"2021": {"4": {"23": 1}, "0": {"2": 1}}, "2020": {"8": {"12": 1}}},
        "stageId": 18685,
    }
    browser = calendar_from_value(evaluated)
    assert browser.months == [(2020, 9), (2021, 1), (2021, 5)]
    assert browser.first_day == date(2020, 9, 12)
    with pytest.raises(PageShapeError, match="wsCalendar"):
        parse_stage_calendar("<html></html>")


def test_closed_doors_attendance_is_zero_not_unknown(match_centre_sample: str) -> None:
    closed_doors = match_centre_sample.replace('"attendance":81104', '"attendance":0')
    assert closed_doors != match_centre_sample
    assert parse_match_centre(closed_doors).attendance == 0
    assert parse_match_centre(match_centre_sample.replace('"attendance":81104,', "")).attendance is None


def test_preview() -> None:
    preview = parse_preview((PAGES / "preview.html").read_text())
    assert preview.match_id == 1485171
    assert (preview.header.home_team_name, preview.header.away_team_name) == ("Tottenham", "Southampton")
    assert preview.header.score is None
    assert preview.venue == "Tottenham Hotspur Stadium"
    # The XI comes from the pitch block, not from `matchprediction`'s squad list sorted by rating.
    assert (preview.home_formation, preview.away_formation) == ("4-2-3-1", "4-4-2")
    assert (len(preview.home_lineup), len(preview.away_lineup)) == (11, 11)
    assert (preview.home_lineup[0].player_id, preview.home_lineup[0].name, preview.home_lineup[0].position) == (
        78498,
        "Hugo Lloris",
        "GK",
    )
    assert preview.away_lineup[-1].name == "Che Adams"
    assert [p.name for p in preview.home_squad] == ["Hugo Lloris", "Harry Kane"]
    assert preview.away_squad[1].name == "Theo O'Connor" and preview.away_squad[1].rating is None
    assert [(p.player_id, p.reason, p.status, p.rating) for p in preview.home_missing] == [
        (96182, "injured", "Out", 6.71),
        (300713, "injured doubtful", "Doubtful", None),
    ]
    assert [p.name for p in preview.away_missing] == ["Oriol Romeu"]


def test_real_preview_reads_the_predicted_xi_not_the_squad(samples: Path) -> None:
    """Burnley v Manchester United, 2021-01-12, as WhoScored served it: the pitch block's XI with full
    names and slots, while `matchprediction` lists 31 and 35 squad players sorted by rating."""
    preview = parse_preview(gzip.decompress((samples / "preview_1485184.html.gz").read_bytes()).decode())
    assert (preview.match_id, preview.venue) == (1485184, "Turf Moor")
    assert (preview.home_formation, preview.away_formation) == ("4-4-2", "4-2-3-1")
    assert (len(preview.home_squad), len(preview.away_squad)) == (31, 35)
    assert (len(preview.home_lineup), len(preview.away_lineup)) == (11, 11)
    assert [(p.player_id, p.name, p.position) for p in preview.home_lineup[:2]] == [
        (105720, "Nick Pope", "GK"),
        (24148, "Erik Pieters", "DL"),
    ]
    assert [p.position for p in preview.home_lineup].count("GK") == 1
    assert preview.away_lineup[-1].name == "Edinson Cavani"
    assert len({p.player_id for p in preview.away_lineup}) == 11
    assert [p.name for p in preview.home_missing][:2] == ["Jimmy Dunne", "Jay Rodriguez"]
    assert "Paul Pogba" in [p.name for p in preview.away_missing]


def test_preview_player_without_an_id_is_a_shape_error() -> None:
    page = (PAGES / "preview.html").read_text().replace('data-playerid="78498"', "", 1)
    page = page.replace('href="/players/78498/show/x"', 'href="/players/x"', 1)
    with pytest.raises(PageShapeError, match=r"#preview-lineups .pitch .home .player"):
        parse_preview(page)


def test_feed_missing_a_match_field_names_it() -> None:
    with pytest.raises(PageShapeError, match=r"fixture feed page: missing or malformed tournaments.0.matches.0.id"):
        parse_fixture_feed('{"tournaments": [{"tournamentId": 2, "stageId": 1, "matches": [{"stageId": 1}]}]}')
