"""Model: champion and challenger, the champion's evaluation against the closing line, the pre-kickoff
market and Elo, RPS by league, the calibration plot of its run and the live quality of every version."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.components import api, attempt

st.title("Model")
card = attempt(api().model_card)
if card is not None:
    champion, challenger = card["champion"], card["challenger"]
    facts = st.columns(4)
    facts[0].metric("Champion", f"v{champion['version']}")
    facts[1].metric("Challenger", f"v{challenger['version']}" if challenger else "none")
    gap = card["gap_to_market_rps"]
    facts[2].metric(
        "RPS gap to closing line",
        f"{gap:+.4f}" if gap is not None else "n/a",
        help="model minus Pinnacle's closing line, pooled; below zero the model is better",
    )
    pre_gap = card["gap_to_prekickoff_market_rps"]
    facts[3].metric(
        "RPS gap to pre-kickoff market",
        f"{pre_gap:+.4f}" if pre_gap is not None else "n/a",
        help="model minus the market line its features saw",
    )
    st.caption(
        f"{card['model_name']} · evaluated on {card['test_seasons']} ({card['test_matches']} matches, "
        f"{card['unpriced_matches']} without prices left out)"
    )
    versions = [dict(role="champion", **champion)] + ([dict(role="challenger", **challenger)] if challenger else [])
    st.dataframe(
        pd.DataFrame(
            [{"role": v["role"], "version": v["version"], "created": v["created_at"], **v["tags"]} for v in versions]
        ),
        hide_index=True,
    )
    scores = pd.DataFrame(card["scores"])
    st.subheader("Latest evaluation, pooled")
    st.dataframe(scores[scores["league"] == "all"].drop(columns="league"), hide_index=True)
    by_league = scores[scores["league"] != "all"]
    if not by_league.empty:
        st.subheader("RPS by league (lower is better)")
        st.bar_chart(by_league.pivot_table(index="league", columns="forecaster", values="rps"), stack=False)
    st.subheader("Calibration")
    calibration = next((path for path in card["plots"] if path.endswith("/calibration")), None)
    image = attempt(lambda: api().plot(calibration)) if calibration else None
    if image is not None:
        st.image(image, caption="forecast vs observed frequency, model and closing market")

st.subheader("Live quality: settled matches against the pre-kickoff market")
live = attempt(api().quality)
if live is not None:
    if live["versions"]:
        st.dataframe(pd.DataFrame(live["versions"]), hide_index=True)
    else:
        st.info(f"No served prediction settled yet (each version is scored on its last {live['window']} matches).")
