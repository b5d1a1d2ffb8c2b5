"""Announcing stored changes: match.updated and preview.updated, once per change.

The rows a tick stored are the outbox: a change is published after its transaction committed, then
marked published. A failed publish leaves it pending for the next tick; the event id is derived from
the row, so a change published twice (a crash between publish and mark) is one event to the
consumers' dedupe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from cloudevents.http import CloudEvent
from sqlalchemy import Engine, Select, exists, select, update
from sqlalchemy.orm import Session

from shared.db.models import Competition, Match, MatchLiveSnapshot, MatchPreviewFetch, Season
from shared.events.contract import MATCH_UPDATED, PREVIEW_UPDATED, MatchUpdated, PreviewUpdated, make_event
from shared.events.publisher import BrokerUnavailable

log = logging.getLogger("time2bet.matchday")

EVENT_SOURCE = "/time2bet/functions/matchday"
Publish = Callable[[CloudEvent], object]


def _with_league(query):  # type: ignore[no-untyped-def]  # a Select of rows joined to their match
    return query.join(Season, Season.id == Match.season_id).join(Competition, Competition.id == Season.competition_id)


def _live_events(session: Session) -> list[tuple[type, int, CloudEvent]]:
    rows = session.execute(
        _with_league(
            select(MatchLiveSnapshot, Competition.code, Season.name)
            .join(Match, Match.id == MatchLiveSnapshot.match_id)
            .where(MatchLiveSnapshot.published_at.is_(None), MatchLiveSnapshot.change.is_not(None))
        ).order_by(MatchLiveSnapshot.id)
    ).all()
    events = []
    for snapshot, league, season in rows:
        data = MatchUpdated(
            match_id=snapshot.match_id,
            league=league,
            season=season,
            status=snapshot.status.value,
            minute=snapshot.minute,
            home_goals=snapshot.home_goals,
            away_goals=snapshot.away_goals,
            home_red_cards=snapshot.home_red_cards,
            away_red_cards=snapshot.away_red_cards,
            changed=snapshot.change.split(","),
            fetched_at=snapshot.fetched_at,
        )
        event = make_event(MATCH_UPDATED, data, source=EVENT_SOURCE, subject=str(snapshot.match_id))
        event["id"] = f"match-live-{snapshot.id}"
        events.append((MatchLiveSnapshot, snapshot.id, event))
    return events


def _preview_events(session: Session) -> list[tuple[type, int, CloudEvent]]:
    rows = session.execute(
        _with_league(
            select(MatchPreviewFetch, Competition.code, Season.name, Match.kickoff_utc)
            .join(Match, Match.id == MatchPreviewFetch.match_id)
            .where(MatchPreviewFetch.published_at.is_(None))
        ).order_by(MatchPreviewFetch.id)
    ).all()
    events = []
    for version, league, season, kickoff in rows:
        data = PreviewUpdated(
            match_id=version.match_id,
            league=league,
            season=season,
            kickoff_utc=kickoff,
            changed=(version.change or "").split(","),
            fetched_at=version.first_fetched_at,
        )
        event = make_event(PREVIEW_UPDATED, data, source=EVENT_SOURCE, subject=str(version.match_id))
        event["id"] = f"match-preview-{version.id}"
        events.append((MatchPreviewFetch, version.id, event))
    return events


@lru_cache(maxsize=1)
def _anything_pending() -> Select:
    """Built once: every tick asks it, and almost always the answer is no."""
    live = select(MatchLiveSnapshot.id).where(
        MatchLiveSnapshot.published_at.is_(None), MatchLiveSnapshot.change.is_not(None)
    )
    previews = select(MatchPreviewFetch.id).where(MatchPreviewFetch.published_at.is_(None))
    return select(exists(live) | exists(previews))


def publish_pending(engine: Engine, publish: Publish, now: datetime) -> int:
    """Publish every pending change in the order stored; stops at the first broker failure. Returns
    the number published."""
    with Session(engine) as session:
        if not session.scalar(_anything_pending()):
            return 0
        pending = _live_events(session) + _preview_events(session)
    published = 0
    for model, row_id, event in pending:
        try:
            publish(event)
        except BrokerUnavailable as error:
            log.warning("matchday: %d change(s) left to announce on the next tick: %s", len(pending) - published, error)
            break
        with Session(engine) as session, session.begin():
            session.execute(update(model).where(model.id == row_id).values(published_at=now))
        published += 1
    return published
