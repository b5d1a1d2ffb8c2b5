"""Async batch: a list of matches -> async predictions, polled through task_status -> one results table."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from ui.api import ApiError, TaskState
from ui.batch import parse_matches
from ui.components import api, show_error

POLL_EVERY_S = 0.5
WAIT_AT_MOST_S = 120.0
EXAMPLE = "home_team,away_team,kickoff,league\nArsenal,Chelsea,2022-05-01T15:00,E0\n"

st.title("Async batch")
st.write("One match a line: `home team, away team, kick-off[, league]`; or upload a CSV in that shape.")
pasted = st.text_area("Matches", placeholder=EXAMPLE, height=160, key="matches")
uploaded = st.file_uploader("…or a CSV file", type=["csv", "txt"], key="upload")
if st.button("Submit as async predictions", type="primary"):
    text = uploaded.getvalue().decode("utf-8", errors="replace") if uploaded is not None else pasted
    parsed = parse_matches(text)
    for problem in parsed.problems:
        st.warning(problem)
    if not parsed.matches:
        st.error("No match to predict.")
    else:
        tasks: list[tuple[str, str, str | None]] = []  # (home, away, task id or None)
        try:
            for match in parsed.matches:
                tasks.append((match.home_team, match.away_team, api().submit(match)))
        except ApiError as error:
            show_error(error)
        st.session_state["batch_tasks"] = tasks

tasks = st.session_state.get("batch_tasks") or []
if tasks:
    states: dict[str, TaskState] = {}
    progress = st.progress(0.0, text="waiting for the infer function…")
    deadline = time.monotonic() + WAIT_AT_MOST_S
    ids = [task_id for _, _, task_id in tasks if task_id]
    while True:
        try:
            for task_id in ids:
                if task_id not in states or not states[task_id].done:
                    states[task_id] = api().task(task_id)
        except ApiError as error:
            show_error(error)
            break
        done = sum(state.done for state in states.values())
        progress.progress(done / len(ids) if ids else 1.0, text=f"{done} of {len(ids)} predictions done")
        if done == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(POLL_EVERY_S)
    rows = []
    for home, away, task_id in tasks:
        state = states.get(task_id or "")
        result = state.result if state else None
        rows.append(
            {
                "home_team": home,
                "away_team": away,
                "status": state.status if state else "not submitted",
                "p_home": result.home if result else None,
                "p_draw": result.draw if result else None,
                "p_away": result.away if result else None,
                "model_version": result.model_version if result else None,
                "error": state.error if state else None,
                "task_id": task_id,
            }
        )
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, column_config={"p_home": percent, "p_draw": percent, "p_away": percent}
    )
    if st.button("Refresh"):
        st.rerun()
