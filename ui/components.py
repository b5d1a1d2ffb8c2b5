"""What every page shares: the cached API client, readable errors, league choices."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from ui.api import Api, ApiError, Team, api_url

T = TypeVar("T")
ALL_LEAGUES = "all leagues"


@st.cache_resource
def _client(base_url: str) -> Api:
    return Api(base_url)


def api() -> Api:
    return _client(api_url())


def show_error(error: ApiError) -> None:
    """The function's own words; a 503 or no answer says when to try again."""
    if error.temporary:
        when = f" Retry in {error.retry_after} s." if error.retry_after else " Try again in a moment."
        st.warning(f"Temporarily unavailable: {error.message.rstrip('.?!')}.{when}")
    elif error.status == 422:
        st.error(f"Check the input: {error.message}")
    else:
        st.error(error.message)


def attempt(call: Callable[[], T]) -> T | None:
    """The call's result, or None after showing its error."""
    try:
        return call()
    except ApiError as error:
        show_error(error)
        return None


@st.cache_data(ttl=300, show_spinner=False)
def all_teams(base_url: str) -> list[Team]:
    return _client(base_url).teams()


def teams() -> list[Team] | None:
    return attempt(lambda: all_teams(api_url()))


def league_labels(teams: list[Team]) -> dict[str, str]:
    """League code -> "E0 · Premier League", in code order."""
    return {t.league: f"{t.league} · {t.league_name}" for t in sorted(teams, key=lambda t: t.league)}


def league_picker(teams: list[Team], key: str, allow_all: bool = True) -> str | None:
    """A league select box; None for every league."""
    labels = league_labels(teams)
    options = ([ALL_LEAGUES] if allow_all else []) + list(labels)
    choice = st.selectbox("League", options, format_func=lambda code: labels.get(code, code), key=key)
    return None if choice == ALL_LEAGUES else choice
