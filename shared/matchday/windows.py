"""Which matches a tick reads, decided from the store alone (one query, no browser).

- live: kicked off no longer than MATCHDAY_LIVE_WINDOW ago and not final, or last seen live and kicked
  off within MATCHDAY_LIVE_OVERRUN (extra time, a late start); read again once the last read is older
  than MATCHDAY_LIVE_INTERVAL;
- preview: kicking off within MATCHDAY_PREVIEW_HOURS and still scheduled; read again once the last
  read is older than MATCHDAY_PREVIEW_INTERVAL.
Only matches with a WhoScored id (stored by the fixture scrape) can be read. Live matches come first,
the longest unread first, then previews; at most MATCHDAY_MAX_PAGES of them per tick.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.models import (
    Competition,
    Match,
    MatchLive,
    MatchPreviewFetch,
    MatchSourceId,
    MatchStatus,
    Season,
    UTCDateTime,
)
from shared.scraping.store import SOURCE

FINAL = (MatchStatus.finished, MatchStatus.postponed, MatchStatus.cancelled)


@dataclass(frozen=True)
class DueMatch:
    match_id: int  # the store's
    whoscored_id: int
    league: str
    season: str
    kickoff_utc: datetime
    status: MatchStatus
    last_read: datetime | None


@dataclass(frozen=True)
class TickPlan:
    live: list[DueMatch]
    previews: list[DueMatch]

    @property
    def idle(self) -> bool:
        return not self.live and not self.previews


@lru_cache(maxsize=1)
def _plan_query() -> Select:
    """Built once: an idle tick's cost is this query, so it must not be rebuilt (and re-cached) per tick."""
    last_preview = (
        select(MatchPreviewFetch.match_id, func.max(MatchPreviewFetch.last_fetched_at).label("read"))
        .group_by(MatchPreviewFetch.match_id)
        .subquery()
    )
    return (
        select(
            Match.id,
            MatchSourceId.source_id,
            Competition.code,
            Season.name,
            Match.kickoff_utc,
            Match.status,
            MatchLive.fetched_at,
            last_preview.c.read,
        )
        .join(MatchSourceId, (MatchSourceId.match_id == Match.id) & (MatchSourceId.source == SOURCE))
        .join(Season, Season.id == Match.season_id)
        .join(Competition, Competition.id == Season.competition_id)
        .outerjoin(MatchLive, MatchLive.match_id == Match.id)
        .outerjoin(last_preview, last_preview.c.match_id == Match.id)
        .where(
            Match.kickoff_utc >= bindparam("earliest", type_=UTCDateTime()),
            Match.kickoff_utc <= bindparam("latest", type_=UTCDateTime()),
            Match.status.not_in(FINAL),
            Competition.code.in_(bindparam("leagues", expanding=True)),
        )
    )


def plan_tick(session: Session, now: datetime, settings: Settings, leagues: Collection[str]) -> TickPlan:
    longest = max(settings.matchday_live_window_minutes, settings.matchday_live_overrun_minutes)
    rows = session.execute(
        _plan_query(),
        {
            "earliest": now - timedelta(minutes=longest),
            "latest": now + timedelta(hours=settings.matchday_preview_hours),
            "leagues": list(leagues),
        },
    ).all()
    live: list[DueMatch] = []
    previews: list[DueMatch] = []
    live_after = now - timedelta(seconds=settings.matchday_live_interval_seconds)
    preview_after = now - timedelta(minutes=settings.matchday_preview_interval_minutes)
    for match_id, source_id, league, season, kickoff, status, live_read, preview_read in rows:
        if kickoff <= now:
            in_window = now <= kickoff + timedelta(minutes=settings.matchday_live_window_minutes)
            overrunning = status is MatchStatus.live
            if (in_window or overrunning) and (live_read is None or live_read <= live_after):
                live.append(DueMatch(match_id, int(source_id), league, season, kickoff, status, live_read))
        elif status is MatchStatus.scheduled and (preview_read is None or preview_read <= preview_after):
            previews.append(DueMatch(match_id, int(source_id), league, season, kickoff, status, preview_read))
    never = datetime.min.replace(tzinfo=now.tzinfo)
    live.sort(key=lambda m: (m.last_read or never, m.kickoff_utc, m.match_id))
    previews.sort(key=lambda m: (m.last_read or never, m.kickoff_utc, m.match_id))
    budget = settings.matchday_max_pages
    return TickPlan(live=live[:budget], previews=previews[: max(0, budget - len(live))])
