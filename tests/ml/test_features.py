"""Point-in-time correctness: no leakage from the future, and online == offline by construction."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shared.features.compute import FEATURE_NAMES
from shared.features.offline import build_feature_table, pre_match_quotes, timing
from shared.features.params import FeatureParams
from shared.features.state import FeatureState, load_state, online_features, save_state
from shared.features.team_state import new_team
from shared.ml.predictor import without_market
from shared.storage import LocalObjectStore

PARAMS = FeatureParams()


def _table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)


def _features(table: pd.DataFrame, match_id: int) -> list[float]:
    return table.loc[table["match_id"] == match_id, list(FEATURE_NAMES)].iloc[0].tolist()


def _same(left: list[float], right: list[float]) -> bool:
    return all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(left, right, strict=True))


@pytest.fixture(scope="module")
def offline(demo_tables) -> pd.DataFrame:
    return build_feature_table(demo_tables.matches, demo_tables.odds, PARAMS).frame


def test_changing_or_removing_future_matches_leaves_past_features_unchanged(demo_tables, offline) -> None:
    matches = demo_tables.matches.to_pandas()
    past = offline[offline["season"] == "2019-2020"].iloc[150]
    future = matches["kickoff_utc"] > past["features_as_of"]
    changed = matches.copy()
    changed.loc[future, "ft_home_goals"] = 7  # every later match becomes a home thrashing...
    changed.loc[future, "ft_away_goals"] = 0
    changed = changed.drop(changed[future].index[::3])  # ...and a third of them never happened
    rebuilt = build_feature_table(_table(changed, demo_tables.matches.schema), demo_tables.odds, PARAMS).frame
    assert _same(_features(offline, past["match_id"]), _features(rebuilt, past["match_id"]))
    later = rebuilt[rebuilt["features_as_of"] > past["features_as_of"] + pd.Timedelta(days=7)].iloc[0]
    assert not _same(_features(offline, later["match_id"]), _features(rebuilt, later["match_id"]))


def test_same_day_matches_without_kickoff_time_do_not_see_each_other(demo_tables, offline) -> None:
    matches = demo_tables.matches.to_pandas()
    undated = matches[~matches["kickoff_time_known"]]
    day = undated.groupby(undated["kickoff_utc"].dt.date).filter(lambda g: len(g) >= 4)["kickoff_utc"].dt.date.iloc[0]
    same_day = matches[matches["kickoff_utc"].dt.date == day]
    first, others = same_day.iloc[0], same_day.iloc[1:]
    changed = matches.copy()
    changed.loc[changed["match_id"] == first["match_id"], ["ft_home_goals", "ft_away_goals"]] = (9, 0)
    rebuilt = build_feature_table(_table(changed, demo_tables.matches.schema), demo_tables.odds, PARAMS).frame
    for match_id in others["match_id"]:
        assert _same(_features(offline, match_id), _features(rebuilt, match_id))


def _no_market(table: pd.DataFrame, match_ids: pd.Series) -> pd.DataFrame:
    rows = table.set_index("match_id").loc[match_ids]
    return rows[without_market(FEATURE_NAMES)]


def test_the_no_market_path_never_reads_the_match_own_prices(demo_tables, offline) -> None:
    """Every price of the matches kicking off at one moment removed, then replaced by garbage: their
    no-market features stay identical (their closing lines only ever move later matches' ratings)."""
    odds = demo_tables.odds.to_pandas()
    moment = offline[offline["season"] == "2020-2021"]["features_as_of"].value_counts().index[0]
    chosen = offline.loc[offline["features_as_of"] == moment, "match_id"]
    assert len(chosen) >= 3
    own = odds["match_id"].isin(chosen)
    removed = build_feature_table(demo_tables.matches, _table(odds[~own], demo_tables.odds.schema), PARAMS).frame
    garbage = odds.copy()
    garbage.loc[own, ["home", "draw", "away"]] = np.random.default_rng(5).uniform(1.01, 80.0, size=(own.sum(), 3))
    scrambled = build_feature_table(demo_tables.matches, _table(garbage, demo_tables.odds.schema), PARAMS).frame
    expected = _no_market(offline, chosen)
    assert expected["odds_rating_home"].abs().sum() > 0  # past closing lines did inform these ratings
    pd.testing.assert_frame_equal(expected, _no_market(removed, chosen))
    pd.testing.assert_frame_equal(expected, _no_market(scrambled, chosen))
    assert removed.set_index("match_id").loc[chosen, "market_p_home"].isna().all()  # the market path did see them


def test_changing_later_prices_leaves_earlier_features_unchanged(demo_tables, offline) -> None:
    odds = demo_tables.odds.to_pandas()
    cut = offline[offline["season"] == "2020-2021"]["features_as_of"].iloc[200]
    later = offline.loc[offline["features_as_of"] >= cut, "match_id"]
    changed = odds.copy()
    in_later = changed["match_id"].isin(later)
    changed.loc[in_later, ["home", "draw", "away"]] = changed.loc[in_later, ["away", "draw", "home"]].to_numpy()
    rebuilt = build_feature_table(demo_tables.matches, _table(changed, demo_tables.odds.schema), PARAMS).frame
    earlier = offline["features_as_of"] < cut
    pd.testing.assert_frame_equal(offline.loc[earlier, list(FEATURE_NAMES)], rebuilt.loc[earlier, list(FEATURE_NAMES)])
    a_week_on = (offline["features_as_of"] > cut + pd.Timedelta(days=7)).to_numpy()
    assert not np.allclose(offline.loc[a_week_on, "odds_rating_home"], rebuilt.loc[a_week_on, "odds_rating_home"])


def test_online_features_from_materialised_state_equal_the_offline_row(demo_tables, offline, tmp_path) -> None:
    matches = demo_tables.matches.to_pandas()
    _, public_at = timing(matches, PARAMS)
    quotes = pre_match_quotes(demo_tables.odds.to_pandas())
    store = LocalObjectStore(tmp_path)
    rng = np.random.default_rng(3)
    season_openers = offline.groupby("season").head(2)
    sample = pd.concat([season_openers, offline.iloc[rng.choice(len(offline), 12, replace=False)]])
    for row in sample.itertuples():
        history = matches[public_at <= row.features_as_of]
        state = build_feature_table(_table(history, demo_tables.matches.schema), demo_tables.odds, PARAMS).state
        save_state(store, state)  # through the object store, as serving reads it
        quote = quotes.loc[row.match_id]
        online = online_features(
            load_state(store),
            row.home_team_id,
            row.away_team_id,
            row.features_as_of.to_pydatetime(),
            (quote.home, quote.draw, quote.away),
            league=row.league,
            season=row.season,
        )
        assert _same([online[name] for name in FEATURE_NAMES], _features(offline, row.match_id)), row.match_id


def test_promoted_club_starts_below_the_founders() -> None:
    state = FeatureState(PARAMS, league_first_season={"E0": "2017-2018"})
    state.teams[1] = new_team(1, "E0", "2017-2018", promoted=False, params=PARAMS)
    features = online_features(state, 1, 99, pd.Timestamp("2018-08-11T14:00Z").to_pydatetime())
    assert features["elo_away"] == PARAMS.elo_initial - PARAMS.promoted_elo_gap
    assert features["pi_away_at_away"] == PARAMS.promoted_pi
    assert math.isnan(features["market_p_home"])


def test_many_match_features_equal_match_features_one_by_one(demo_tables) -> None:
    """Batch scoring works each team's season entry out once per team; the rows must not change."""
    matches = demo_tables.matches.to_pandas()
    cut = matches["kickoff_utc"].quantile(0.7)
    state = build_feature_table(
        _table(matches[matches["kickoff_utc"] <= cut], demo_tables.matches.schema), demo_tables.odds, PARAMS
    ).state
    later = matches[matches["kickoff_utc"] > cut].head(400)
    quotes = pre_match_quotes(demo_tables.odds.to_pandas())
    targets = [
        (
            m.home_team_id,
            m.away_team_id,
            m.league,
            m.season,
            m.kickoff_utc.to_pydatetime(),
            tuple(quotes.loc[m.match_id, ["home", "draw", "away"]]) if m.match_id in quotes.index and i % 2 else None,
        )
        for i, m in enumerate(later.itertuples())
    ]
    one_by_one = [state.match_features(*target) for target in targets]
    assert len({(t[0], t[3]) for t in targets}) < len(targets)  # teams play several of these matches
    assert all(
        _same([a[n] for n in FEATURE_NAMES], [b[n] for n in FEATURE_NAMES])
        for a, b in zip(one_by_one, state.many_match_features(targets), strict=True)
    )
