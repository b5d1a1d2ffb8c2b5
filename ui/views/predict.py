"""Predict: two teams and a kick-off (and a bookmaker's prices, if any) -> the champion's probabilities."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from ui.api import MatchRequest, Odds
from ui.components import api, attempt, league_picker, teams
from ui.market import comparison, margin

st.title("Predict a match")
known = teams()
if known is not None:
    league = league_picker(known, key="predict_league", allow_all=False)
    names = [t.name for t in known if t.league == league]
    with st.form("predict"):
        left, right = st.columns(2)
        home = left.selectbox("Home team", names, index=None, placeholder="Type to search", key="home")
        away = right.selectbox("Away team", names, index=None, placeholder="Type to search", key="away")
        day = left.date_input("Kick-off date", value=datetime.now(UTC).date(), key="day")
        at = right.time_input("Kick-off time (UTC)", value=time(15, 0), key="time")
        st.caption("Bookmaker's decimal prices, optional: all three to compare the model with the market")
        prices = st.columns(3)
        odds_home = prices[0].number_input("Home", min_value=1.01, value=None, step=0.05, key="odds_home")
        odds_draw = prices[1].number_input("Draw", min_value=1.01, value=None, step=0.05, key="odds_draw")
        odds_away = prices[2].number_input("Away", min_value=1.01, value=None, step=0.05, key="odds_away")
        submitted = st.form_submit_button("Predict", type="primary")

    if submitted:
        given = [o for o in (odds_home, odds_draw, odds_away) if o is not None]
        if home is None or away is None:
            st.error("Pick a home and an away team.")
        elif home == away:
            st.error("Pick two different teams.")
        elif len(given) not in (0, 3):
            st.error("Give all three prices, or none.")
        else:
            odds = Odds(odds_home, odds_draw, odds_away) if len(given) == 3 else None
            kickoff = datetime.combine(day, at, tzinfo=UTC)
            with st.spinner("Asking the champion model…"):
                answer = attempt(lambda: api().predict(MatchRequest(home, away, kickoff, league, odds)))
            st.session_state["prediction"] = (answer, odds) if answer is not None else None

    shown = st.session_state.get("prediction")
    if shown is not None:
        prediction, odds = shown
        st.subheader(f"{prediction.home_team} v {prediction.away_team}")
        chances = st.columns(3)
        for column, label, probability in zip(
            chances, ("Home win", "Draw", "Away win"), (prediction.home, prediction.draw, prediction.away), strict=True
        ):
            column.metric(label, f"{probability:.1%}", help=f"fair odds {1 / probability:.2f}")
        facts = st.columns(3)
        facts[0].metric("Model version", f"v{prediction.model_version}", help=prediction.model_name)
        facts[1].metric("Answer", "cached" if prediction.cached else "computed")
        facts[2].metric("Kick-off (UTC)", prediction.kickoff.strftime("%Y-%m-%d %H:%M"))
        rows = comparison(prediction, odds)
        chart = pd.DataFrame({"model": [r.model for r in rows]}, index=[r.outcome for r in rows])
        if odds is not None:
            chart["market (de-vigged)"] = [r.market for r in rows]
        st.bar_chart(chart, stack=False, sort=False, y_label="probability")  # home, draw, away as given
        table = pd.DataFrame([vars(r) for r in rows]).dropna(axis="columns", how="all")
        st.dataframe(
            table,
            hide_index=True,
            column_config={
                "model": st.column_config.NumberColumn("model p", format="percent"),
                "fair_odds": st.column_config.NumberColumn("fair odds", format="%.2f"),
                "price": st.column_config.NumberColumn("price", format="%.2f"),
                "market": st.column_config.NumberColumn("market p (de-vigged)", format="percent"),
                "edge": st.column_config.NumberColumn("edge (model - market)", format="percent"),
                "expected_value": st.column_config.NumberColumn("EV per unit", format="%+.3f"),
            },
        )
        if odds is not None:
            st.caption(f"Bookmaker margin {margin(odds):.1%}; de-vigged proportionally.")
        if prediction.features_as_of is not None:
            st.caption(f"Team ratings and form include results up to {prediction.features_as_of:%Y-%m-%d}.")
