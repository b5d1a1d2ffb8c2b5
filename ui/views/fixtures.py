"""Fixtures: the latest batch scoring's upcoming matches, filtered, sorted, downloadable as CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.components import api, attempt, league_picker, teams

SORTS = {
    "kick-off": ("kickoff", True),
    "home win": ("p_home", False),
    "draw": ("p_draw", False),
    "away win": ("p_away", False),
}

st.title("Fixtures")
known = teams()
if known is not None:
    filters = st.columns([2, 1, 1, 2, 1])
    with filters[0]:
        league = league_picker(known, key="fixtures_league")
    date_from = filters[1].date_input("From", value=None, key="date_from")
    date_to = filters[2].date_input("To", value=None, key="date_to")
    team = filters[3].text_input("Team contains", key="team_filter")
    sort = filters[4].selectbox("Sort by", list(SORTS), key="sort")
    page = attempt(lambda: api().fixtures(league, date_from, date_to))
    if page is not None:
        frame = pd.DataFrame(
            [
                {
                    "kickoff": pd.Timestamp(f["kickoff"]),
                    "league": f["league"],
                    "home_team": f["home_team"],
                    "away_team": f["away_team"],
                    "p_home": f["probabilities"]["home"],
                    "p_draw": f["probabilities"]["draw"],
                    "p_away": f["probabilities"]["away"],
                    "model_version": f["model"]["version"],
                    "match_id": f["match_id"],
                }
                for f in page["fixtures"]
            ],
            columns=[
                "kickoff",
                "league",
                "home_team",
                "away_team",
                "p_home",
                "p_draw",
                "p_away",
                "model_version",
                "match_id",
            ],
        )
        if team:
            plays = frame["home_team"].str.contains(team, case=False, regex=False)
            frame = frame[plays | frame["away_team"].str.contains(team, case=False, regex=False)]
        column, ascending = SORTS[sort]
        frame = frame.sort_values(column, ascending=ascending, kind="stable")
        st.caption(f"{len(frame)} of {page['total']} matches · batch `{page['batch_key']}`")
        percent = st.column_config.NumberColumn(format="percent")
        st.dataframe(
            frame,
            hide_index=True,
            column_config={
                "p_home": percent,
                "p_draw": percent,
                "p_away": percent,
                "kickoff": st.column_config.DatetimeColumn("kick-off (UTC)", format="YYYY-MM-DD HH:mm"),
            },
        )
        st.download_button("Download CSV", frame.to_csv(index=False), file_name="fixtures.csv", mime="text/csv")
