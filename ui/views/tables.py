"""Tables: each league's standings with every team's recent form, from /stats."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.components import api, attempt, league_picker, teams

COLUMNS = [
    "position",
    "team",
    "played",
    "won",
    "drawn",
    "lost",
    "goals_for",
    "goals_against",
    "goal_difference",
    "points",
    "form",
]

st.title("League tables")
known = teams()
if known is not None:
    choice, length = st.columns([3, 1])
    with choice:
        league = league_picker(known, key="tables_league")
    form = length.slider("Form: last N results", min_value=1, max_value=10, value=5, key="form")
    stats = attempt(lambda: api().stats(league, form))
    if stats is not None:
        for table in stats["tables"]:
            st.subheader(f"{table['league_name']} ({table['league']}) · {table['season']}")
            st.dataframe(pd.DataFrame(table["standings"], columns=COLUMNS), hide_index=True)
