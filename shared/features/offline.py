"""The offline feature table: walk the whole history in time order through the state machine.

Each match gets its features at its as-of time, before any result that was not yet public then
is applied. A result is public `result_delay_minutes` after a known kick-off; when only the day
is known (football-data before 2019-20) the whole day counts as one moment, so matches on the same
day never see each other's results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.features.compute import FEATURE_NAMES
from shared.features.market import CLOSING_BENCHMARK, PRE_MATCH_PREFERENCE
from shared.features.params import FeatureParams
from shared.features.state import FeatureState

OUTCOMES = ("H", "D", "A")  # class index 0, 1, 2: ordered for the RPS
ID_COLUMNS = (
    "match_id",
    "league",
    "season",
    "kickoff_utc",
    "features_as_of",
    "status",
    "home_team_id",
    "home_team",
    "away_team_id",
    "away_team",
    "ft_home_goals",
    "ft_away_goals",
    "outcome",
    "market_source",
    "closing_source",
    "closing_p_home",
    "closing_p_draw",
    "closing_p_away",
    "closing_price_home",
    "closing_price_draw",
    "closing_price_away",
    "best_price_home",
    "best_price_draw",
    "best_price_away",
)
# Market aggregates are not prices anyone can take: the value report bets at the best bookmaker's.
AGGREGATE_BOOKMAKERS = ("Max", "Avg", "BbMx", "BbAv")
# Closing prices only ever score the market benchmark. Pinnacle first; the market average
# closing line when Pinnacle's is missing.
CLOSING_PREFERENCE = (CLOSING_BENCHMARK, "Avg")

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class FeatureTable:
    frame: pd.DataFrame
    state: FeatureState


def timing(matches: pd.DataFrame, params: FeatureParams) -> tuple[pd.Series, pd.Series]:
    """(features as-of time, time the result becomes public) of every match."""
    day_start = matches["kickoff_utc"].dt.floor("D")
    known = matches["kickoff_time_known"].astype(bool)
    as_of = matches["kickoff_utc"].where(known, day_start)
    public = (matches["kickoff_utc"] + timedelta(minutes=params.result_delay_minutes)).where(
        known, day_start + timedelta(days=1)
    )
    return as_of, public


def _prices_by_preference(odds: pd.DataFrame, kind: str, preference: tuple[str, ...]) -> pd.DataFrame:
    """One row per match: the first bookmaker in `preference` quoting all three prices."""
    subset = odds[(odds["kind"] == kind) & odds["bookmaker"].isin(preference)].dropna(subset=["home", "draw", "away"])
    subset = subset[(subset[["home", "draw", "away"]] > 1.0).all(axis=1)]
    rank = subset["bookmaker"].map({b: i for i, b in enumerate(preference)})
    best = subset.assign(rank=rank).sort_values(["match_id", "rank"]).drop_duplicates("match_id")
    return best.set_index("match_id")[["bookmaker", "home", "draw", "away"]]


def best_pre_match_prices(odds: pd.DataFrame) -> pd.DataFrame:
    """Per match, the best pre-kickoff price of each outcome over the individual bookmakers."""
    quotes = odds[(odds["kind"] == "opening") & ~odds["bookmaker"].isin(AGGREGATE_BOOKMAKERS)]
    return quotes.groupby("match_id")[["home", "draw", "away"]].max()


def pre_match_quotes(odds: pd.DataFrame) -> pd.DataFrame:
    """The pre-kickoff prices the market features use, one row per match (indexed by match_id)."""
    return _prices_by_preference(odds, "opening", PRE_MATCH_PREFERENCE)


def _outcome(home_goals: pd.Series, away_goals: pd.Series) -> pd.Series:
    outcome = np.select([home_goals > away_goals, home_goals == away_goals], [0.0, 1.0], 2.0)
    return pd.Series(outcome, index=home_goals.index).where(home_goals.notna() & away_goals.notna())


def build_feature_table(
    matches: pa.Table, odds: pa.Table, params: FeatureParams, progress: ProgressCallback | None = None
) -> FeatureTable:
    frame = matches.to_pandas()
    frame["features_as_of"], public_at = timing(frame, params)
    frame = frame.assign(public_at=public_at).sort_values(["features_as_of", "match_id"]).reset_index(drop=True)
    odds_frame = odds.to_pandas()
    pre_match = pre_match_quotes(odds_frame).reindex(frame["match_id"])
    closing = _prices_by_preference(odds_frame, "closing", CLOSING_PREFERENCE).reindex(frame["match_id"])

    # What a finished match tells the ratings of later matches about the market: its closing line,
    # or its pre-kickoff line where no closing price was recorded (both public once it kicked off).
    closing_prices = closing[["home", "draw", "away"]].to_numpy()
    last_prices = np.where(np.isnan(closing_prices), pre_match[["home", "draw", "away"]].to_numpy(), closing_prices)
    state = FeatureState(params=params)
    finished_mask = ((frame["status"] == "finished") & frame["ft_home_goals"].notna()).to_numpy()
    finished = frame[finished_mask].assign(
        last_home=last_prices[finished_mask, 0],
        last_draw=last_prices[finished_mask, 1],
        last_away=last_prices[finished_mask, 2],
    )
    finished = finished.sort_values(["public_at", "match_id"])
    results = list(
        zip(
            finished["public_at"],
            finished["home_team_id"],
            finished["away_team_id"],
            finished["league"],
            finished["season"],
            finished["ft_home_goals"].astype(int),
            finished["ft_away_goals"].astype(int),
            finished["kickoff_utc"],
            finished["last_home"],
            finished["last_draw"],
            finished["last_away"],
            strict=True,
        )
    )

    def record(result: tuple) -> None:
        public, r_home, r_away, r_league, r_season, home_goals, away_goals, kickoff, *last = result
        line = None if np.isnan(last[0]) else (float(last[0]), float(last[1]), float(last[2]))
        state.record_result(r_home, r_away, r_league, r_season, (home_goals, away_goals), kickoff, public, line)

    prices = pre_match[["home", "draw", "away"]].to_numpy()
    rows: list[list[float]] = []
    next_result = 0
    total = len(frame)
    columns = zip(
        frame["features_as_of"],
        frame["home_team_id"],
        frame["away_team_id"],
        frame["league"],
        frame["season"],
        strict=True,
    )
    for index, (as_of, home_id, away_id, league, season) in enumerate(columns):
        while next_result < len(results) and results[next_result][0] <= as_of:
            record(results[next_result])
            next_result += 1
        quote = prices[index]
        odds_triple = None if np.isnan(quote[0]) else (float(quote[0]), float(quote[1]), float(quote[2]))
        features = state.match_features(int(home_id), int(away_id), league, season, as_of.to_pydatetime(), odds_triple)
        rows.append([features[name] for name in FEATURE_NAMES])
        if progress is not None and (index % 1000 == 0 or index == total - 1):
            progress(index + 1, total)
    for result in results[next_result:]:
        record(result)

    best = best_pre_match_prices(odds_frame).reindex(frame["match_id"])
    # Proportional de-vigging (market.devig), vectorised: a row-wise apply took most of the build.
    inverse = 1.0 / closing_prices
    closing_probs = inverse / inverse.sum(axis=1, keepdims=True)
    table = frame.assign(
        outcome=_outcome(frame["ft_home_goals"], frame["ft_away_goals"]),
        market_source=pre_match["bookmaker"].to_numpy(),
        closing_source=closing["bookmaker"].to_numpy(),
        closing_p_home=closing_probs[:, 0],
        closing_p_draw=closing_probs[:, 1],
        closing_p_away=closing_probs[:, 2],
        closing_price_home=closing_prices[:, 0],
        closing_price_draw=closing_prices[:, 1],
        closing_price_away=closing_prices[:, 2],
        best_price_home=best["home"].to_numpy(),
        best_price_draw=best["draw"].to_numpy(),
        best_price_away=best["away"].to_numpy(),
    )[list(ID_COLUMNS)]
    features_frame = pd.DataFrame(rows, columns=list(FEATURE_NAMES), dtype="float64")
    return FeatureTable(pd.concat([table.reset_index(drop=True), features_frame], axis=1), state)
