"""Live quality: logged predictions settled against results, beside the pre-kickoff market.

A prediction counts when it was served before its match kicked off; per model version and match the
last such prediction is scored (RPS and log loss), and so are the de-vigged pre-kickoff prices of the
same match (the opening prices the features saw, preferred bookmaker first). Settling is incremental
and idempotent: a finished match is scored once per model version, whoever runs `settle`.

Whoever writes results settles the matches it wrote, right after its write commits
(`settle_results`): the football-data import (each file), the WhoScored scrape and the match-day
tick. `t2b predictions settle` settles whatever is left, hourly in the live-quality CronWorkflow, so a
settle that failed after a write (the store went away) is caught up there. It scans the whole log,
so the quality function's request and its /metrics scrape only read the settlements (`summary`).
Settling needs no numpy: the scrape and match-day images do not carry it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from shared.clock import utcnow
from shared.db.models import Match, MatchStatus, Odds, OddsKind, PredictionLog, PredictionSettlement
from shared.db.session import transaction
from shared.features.market import choose_pre_match, devig

log = logging.getLogger("time2bet.quality")

# The matches the live figures and the alert cover: the last N settled per model version.
WINDOW_MATCHES = 100
# A prediction named by teams and kick-off is the stored match of those teams kicking off this close.
KICKOFF_TOLERANCE = timedelta(hours=36)
# A probability of the outcome below this scores as this (shared.ml.metrics.EPSILON, without numpy).
EPSILON = 1e-15


@dataclass(frozen=True)
class VersionQuality:
    model_name: str
    model_version: str
    matches: int  # settled matches in the window
    with_market: int  # of those, matches the market priced: the figures below compare these only
    rps: float | None
    log_loss: float | None
    market_rps: float | None
    market_log_loss: float | None

    @property
    def rps_gap(self) -> float | None:
        """Model minus market: above zero the model is worse."""
        return None if self.rps is None or self.market_rps is None else self.rps - self.market_rps


def outcome_of(home_goals: int, away_goals: int) -> int:
    return 0 if home_goals > away_goals else 1 if home_goals == away_goals else 2


def score(probabilities: tuple[float, float, float], outcome: int) -> tuple[float, float]:
    """(RPS, log loss) of one forecast, as shared.ml.metrics scores it (outcomes ordered H > D > A)."""
    cumulative_forecast = (probabilities[0], probabilities[0] + probabilities[1])
    cumulative_outcome = (float(outcome == 0), float(outcome <= 1))
    rps = sum((f - o) ** 2 for f, o in zip(cumulative_forecast, cumulative_outcome, strict=True)) / 2.0
    return rps, -math.log(min(max(probabilities[outcome], EPSILON), 1.0))


@dataclass(frozen=True)
class _Pending:
    """A pre-kickoff prediction of a finished match: what scoring it needs."""

    prediction_id: int
    served_at: datetime
    model_name: str
    model_version: str
    probabilities: tuple[float, float, float]
    match_id: int
    kickoff_utc: datetime
    outcome: int


_PENDING_COLUMNS = (
    PredictionLog.id, PredictionLog.served_at, PredictionLog.model_name, PredictionLog.model_version,
    PredictionLog.p_home, PredictionLog.p_draw, PredictionLog.p_away, PredictionLog.match_id, PredictionLog.kickoff_utc,
    Match.id, Match.kickoff_utc, Match.ft_home_goals, Match.ft_away_goals,
)  # fmt: skip


def _unsettled(session: Session, match_ids: Collection[int] | None) -> list[_Pending]:
    """Pre-kickoff predictions of finished matches (of `match_ids`, or all) no settlement covers yet.

    Columns, not ORM rows: the logged features are not needed. Predictions naming a match id and those
    naming teams are joined in two queries, each on an index (one join with OR scans the log once per
    match). Both kick-off columns hold UTC in one format on every backend, so `served_at < kick-off` is
    compared in SQL; the tolerance of a prediction named by teams in Python (SQLite has no interval
    arithmetic).
    """
    by_id = PredictionLog.match_id == Match.id
    by_teams = and_(
        PredictionLog.match_id.is_(None),
        PredictionLog.home_team_id == Match.home_team_id,
        PredictionLog.away_team_id == Match.away_team_id,
    )
    settled = exists().where(
        PredictionSettlement.model_name == PredictionLog.model_name,
        PredictionSettlement.model_version == PredictionLog.model_version,
        PredictionSettlement.match_id == Match.id,
    )
    pending = []
    for same_match in (by_id, by_teams):
        query = (
            select(*_PENDING_COLUMNS)
            .join(Match, same_match)
            .where(
                Match.status == MatchStatus.finished,
                Match.ft_home_goals.is_not(None),
                Match.ft_away_goals.is_not(None),
                PredictionLog.served_at < Match.kickoff_utc,
                ~settled,
            )
        )
        if match_ids is not None:
            query = query.where(Match.id.in_(match_ids))
        pending += [
            _Pending(prediction_id, served_at, name, version, (p_home, p_draw, p_away), match_id, kickoff,
                     outcome_of(home, away))
            for (prediction_id, served_at, name, version, p_home, p_draw, p_away, logged_match_id, logged_kickoff,
                 match_id, kickoff, home, away) in session.execute(query)
            if logged_match_id is not None or abs(logged_kickoff - kickoff) <= KICKOFF_TOLERANCE
        ]  # fmt: skip
    return pending


def _last_before_kickoff(rows: Iterable[_Pending]) -> list[_Pending]:
    latest: dict[tuple[str, str, int], _Pending] = {}
    for row in rows:
        key = (row.model_name, row.model_version, row.match_id)
        if key not in latest or row.served_at > latest[key].served_at:
            latest[key] = row
    return list(latest.values())


def _pre_kickoff_markets(session: Session, match_ids: set[int]) -> dict[int, tuple[str, tuple[float, float, float]]]:
    prices: dict[int, dict[str, tuple[float, float, float]]] = {}
    query = select(Odds.match_id, Odds.bookmaker, Odds.home, Odds.draw, Odds.away).where(
        Odds.match_id.in_(match_ids), Odds.kind == OddsKind.opening
    )
    for match_id, bookmaker, home, draw, away in session.execute(query):
        prices.setdefault(match_id, {})[bookmaker] = (home, draw, away)
    markets = {}
    for match_id, by_bookmaker in prices.items():
        chosen = choose_pre_match(by_bookmaker)
        if chosen is not None:
            markets[match_id] = (chosen[0], devig(chosen[1]))
    return markets


def settle(engine: Engine, match_ids: Collection[int] | None = None) -> int:
    """Score every pre-kickoff prediction of a finished match (of `match_ids`, or any) not settled yet;
    returns rows added."""
    if match_ids is not None and not match_ids:
        return 0
    with transaction(engine) as session:
        pending = _last_before_kickoff(_unsettled(session, match_ids))
        if not pending:
            return 0
        markets = _pre_kickoff_markets(session, {row.match_id for row in pending})
    now = utcnow()
    rows = []
    for row in pending:
        rps, loss = score(row.probabilities, row.outcome)
        market = markets.get(row.match_id)
        market_rps, market_loss = score(market[1], row.outcome) if market else (None, None)
        rows.append(
            {
                "model_name": row.model_name,
                "model_version": row.model_version,
                "match_id": row.match_id,
                "prediction_id": row.prediction_id,
                "kickoff_utc": row.kickoff_utc,
                "outcome": row.outcome,
                "p_home": row.probabilities[0],
                "p_draw": row.probabilities[1],
                "p_away": row.probabilities[2],
                "rps": rps,
                "log_loss": loss,
                "market_bookmaker": market[0] if market else None,
                "market_rps": market_rps,
                "market_log_loss": market_loss,
                "settled_at": now,
            }
        )
    try:
        with transaction(engine) as session:
            session.execute(insert(PredictionSettlement), rows)
    except IntegrityError:
        return 0  # another process settled the same matches first: theirs stand
    return len(rows)


def settle_results(engine: Engine, match_ids: Collection[int]) -> int:
    """Settle the matches a results writer just committed; a store error is logged, not raised (the
    results are stored, and the live-quality CronWorkflow settles what is left within the hour)."""
    try:
        return settle(engine, match_ids)
    except SQLAlchemyError as error:
        log.warning("could not settle %d written match(es) now, the hourly settle will: %s", len(match_ids), error)
        return 0


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summary(session: Session, window: int = WINDOW_MATCHES) -> list[VersionQuality]:
    """Per model version, the last `window` settled matches (by kick-off)."""
    versions = session.execute(
        select(PredictionSettlement.model_name, PredictionSettlement.model_version).distinct()
    ).all()
    result = []
    for name, version in sorted(versions):
        recent = session.scalars(
            select(PredictionSettlement)
            .where(PredictionSettlement.model_name == name, PredictionSettlement.model_version == version)
            .order_by(PredictionSettlement.kickoff_utc.desc(), PredictionSettlement.match_id.desc())
            .limit(window)
        ).all()
        priced = [row for row in recent if row.market_rps is not None]
        result.append(
            VersionQuality(
                model_name=name,
                model_version=version,
                matches=len(recent),
                with_market=len(priced),
                rps=_mean([row.rps for row in priced]),
                log_loss=_mean([row.log_loss for row in priced]),
                market_rps=_mean([row.market_rps for row in priced]),  # type: ignore[misc]
                market_log_loss=_mean([row.market_log_loss for row in priced]),  # type: ignore[misc]
            )
        )
    return result
