"""Writing what a tick read: idempotent, one transaction per page.

A live read that matches the stored state only moves `fetched_at` (the age /livescores shows); a new
state adds a snapshot and updates the match row (status, current score, half-time score), so
/livescores and the rest of the store see it. A preview read equal to the match's latest version only
moves that version's `last_fetched_at`; a different one adds a version. Rows still to announce carry
`published_at` null (shared/matchday/outbox.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db.models import Match, MatchLive, MatchLiveSnapshot, MatchPreviewFetch, MatchStatus
from shared.matchday.windows import DueMatch
from shared.scraping.records import MatchCentre, MatchPreview
from shared.storage import ObjectNotFound, ObjectStore

# What a reader of scores cares about; a change in these is announced (match.updated).
ANNOUNCED = ("status", "score", "red_cards")


@dataclass(frozen=True)
class LiveState:
    status: MatchStatus
    minute: str | None
    home_goals: int | None
    away_goals: int | None
    home_red_cards: int
    away_red_cards: int
    event_count: int

    @property
    def key(self) -> str:
        return "|".join(
            str(v)
            for v in (
                self.status.value,
                self.minute,
                self.home_goals,
                self.away_goals,
                self.home_red_cards,
                self.away_red_cards,
                self.event_count,
            )
        )

    def changes_from(self, before: LiveState) -> list[str]:
        changed = {
            "status": self.status != before.status,
            "score": (self.home_goals, self.away_goals) != (before.home_goals, before.away_goals),
            "red_cards": (self.home_red_cards, self.away_red_cards) != (before.home_red_cards, before.away_red_cards),
        }
        return [name for name in ANNOUNCED if changed[name]]


def minute_of(elapsed: str | None) -> str | None:
    """WhoScored's `elapsed` ("10'", "45+2'", "HT", "FT") as the minute shown: "10", "45+2", "HT", "FT"."""
    if elapsed is None:
        return None
    text = elapsed.strip().rstrip("'").strip()
    return text or None


def live_state(centre: MatchCentre) -> LiveState:
    elapsed = centre.elapsed or (centre.header.elapsed if centre.header else None)
    score = centre.score or (centre.header.score if centre.header else None)
    return LiveState(
        status=centre.state,
        minute=minute_of(elapsed),
        home_goals=score.home if score else None,
        away_goals=score.away if score else None,
        home_red_cards=centre.home.red_cards or 0,
        away_red_cards=centre.away.red_cards or 0,
        event_count=len(centre.events),
    )


def _stored_state(session: Session, match_id: int) -> tuple[MatchLive | None, LiveState]:
    """The last live state read, or what the fixture feed said (no red cards, no events) before any."""
    row = session.scalar(select(MatchLive).where(MatchLive.match_id == match_id))
    if row is not None:
        return row, LiveState(
            row.status,
            row.minute,
            row.home_goals,
            row.away_goals,
            row.home_red_cards,
            row.away_red_cards,
            row.event_count,
        )
    match = session.get(Match, match_id)
    assert match is not None  # the plan read it in this tick; matches are never deleted under a tick
    return None, LiveState(match.status, None, match.ft_home_goals, match.ft_away_goals, 0, 0, 0)


def record_live(session: Session, due: DueMatch, centre: MatchCentre, fetched_at: datetime) -> list[str] | None:
    """Store one live read; the announced fields that changed, [] for a minute tick, None if nothing did."""
    state = live_state(centre)
    row, before = _stored_state(session, due.match_id)
    fields = {
        "status": state.status,
        "minute": state.minute,
        "home_goals": state.home_goals,
        "away_goals": state.away_goals,
        "home_red_cards": state.home_red_cards,
        "away_red_cards": state.away_red_cards,
        "event_count": state.event_count,
    }
    if state == before and row is not None:
        row.fetched_at = fetched_at
        return None
    changed = state.changes_from(before)
    if row is None:
        session.add(MatchLive(match_id=due.match_id, fetched_at=fetched_at, changed_at=fetched_at, **fields))
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.fetched_at = row.changed_at = fetched_at
    session.add(
        MatchLiveSnapshot(
            match_id=due.match_id,
            state_key=state.key,
            fetched_at=fetched_at,
            change=",".join(changed) or None,
            # a minute tick is history only: nothing to announce
            published_at=None if changed else fetched_at,
            **fields,
        )
    )
    _update_match(session, due.match_id, centre, state, fetched_at)
    return changed


def _update_match(session: Session, match_id: int, centre: MatchCentre, state: LiveState, now: datetime) -> None:
    # matches.ft_* is the current score while live and the final one once finished (/livescores reads it)
    values: dict[str, Any] = {"status": state.status, "updated_at": now}
    if state.home_goals is not None:
        values |= {"ft_home_goals": state.home_goals, "ft_away_goals": state.away_goals}
    if centre.half_time is not None:
        values |= {"ht_home_goals": centre.half_time.home, "ht_away_goals": centre.half_time.away}
    session.execute(update(Match).where(Match.id == match_id).values(**values))


def put_if_changed(store: ObjectStore, key: str, payload: Any) -> bool:
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
    try:
        if store.get_bytes(key) == data:
            return False
    except ObjectNotFound:
        pass
    store.put_bytes(key, data, content_type="application/json")
    return True


# --- previews -------------------------------------------------------------------------------------


def preview_content(preview: MatchPreview) -> dict[str, Any]:
    """What a preview version is: formations, predicted XIs and missing players of both sides."""
    dumped = preview.model_dump(mode="json")
    return {
        "formations": {"home": preview.home_formation, "away": preview.away_formation},
        "lineups": {"home": dumped["home_lineup"], "away": dumped["away_lineup"]},
        "missing": {"home": dumped["home_missing"], "away": dumped["away_missing"]},
    }


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def record_preview(
    session: Session, due: DueMatch, preview: MatchPreview, fetched_at: datetime
) -> tuple[list[str] | None, date]:
    """Store one preview read: the parts that differ from the latest version (None if none does) and
    the day the stored version was first read (its history partition)."""
    content = preview_content(preview)
    content_hash = _digest(content)
    latest = session.scalar(
        select(MatchPreviewFetch)
        .where(MatchPreviewFetch.match_id == due.match_id)
        .order_by(MatchPreviewFetch.first_fetched_at.desc())
        .limit(1)
    )
    if latest is not None and latest.content_hash == content_hash:
        latest.last_fetched_at = max(latest.last_fetched_at, fetched_at)
        latest.fetch_count += 1
        return None, latest.first_fetched_at.date()
    if latest is None:
        changed = list(content)
    else:
        previous = {
            "formations": {"home": latest.home_formation, "away": latest.away_formation},
            "lineups": latest.lineups,
            "missing": latest.missing,
        }
        changed = [part for part in content if _digest(content[part]) != _digest(previous[part])]
    session.add(
        MatchPreviewFetch(
            match_id=due.match_id,
            content_hash=content_hash,
            first_fetched_at=fetched_at,
            last_fetched_at=fetched_at,
            fetch_count=1,
            home_formation=preview.home_formation,
            away_formation=preview.away_formation,
            lineups=content["lineups"],
            missing=content["missing"],
            change=",".join(changed),
            published_at=None,
        )
    )
    return changed, fetched_at.date()
