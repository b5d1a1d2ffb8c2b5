"""`t2b bench ui`: time to first render of each page of the web app, against a running API.

Each page's script runs through Streamlit's AppTest, in this process, as the server runs it for a
new browser session: the API calls, the data frames and the chart specs, up to the elements it
sends. "First" is a new session with empty Streamlit caches (the team list is cached per process);
"warm" is the same page run again. Network time to the browser and drawing are not in it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import typer
from rich.table import Table

from shared.cli.console import console
from shared.cli.errors import CommandError, ExitCode
from shared.cli.ui import APP, default_api_url

VIEWS = APP.parent / "views"
PAGES = ("predict", "fixtures", "batch", "tables", "model", "status")
GOAL_S = 2.0
PAGE_TIMEOUT_S = 120


def render_seconds(page: Path | None) -> float:
    """One run of `page`; None runs an empty script: AppTest's own cost, to subtract."""
    from streamlit.testing.v1 import AppTest

    if page is None:
        app = AppTest.from_string("", default_timeout=PAGE_TIMEOUT_S)
    else:
        app = AppTest.from_file(str(page), default_timeout=PAGE_TIMEOUT_S)
    started = time.perf_counter()
    app.run()
    took = time.perf_counter() - started
    if app.exception:
        raise CommandError(f"page {page.stem if page else '(empty)'} failed: {app.exception[0].value}")
    return took


def clear_streamlit_caches() -> None:
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def bench_ui_command(
    api_url: str = typer.Option(None, help="The HTTP functions (default T2B_API_URL, else the local runtime)."),
    runs: int = typer.Option(3, min=1, max=20, help="Warm runs per page (the median is printed)."),
) -> None:
    """Time to first render of every page (goal < 2 s locally), first and warm, against a running `t2b up`."""
    target = api_url or default_api_url()
    try:
        httpx.get(f"{target}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        message = f"no API at {target} ({type(exc).__name__}): start `t2b up` first"
        raise CommandError(message, ExitCode.TEMPORARY) from None
    os.environ["T2B_API_URL"] = target  # the pages read it, as under `t2b ui`
    if str(APP.parents[1]) not in sys.path:  # the pages import the `ui` package, as ui/app.py arranges
        sys.path.insert(0, str(APP.parents[1]))
    baseline = statistics.median(render_seconds(None) for _ in range(runs))
    table = Table(title=f"web app: time to first render (API {target})")
    columns = ("page", "first (s)", f"warm, median of {runs} (s)", "first, less AppTest (s)", f"goal < {GOAL_S:.0f} s")
    for column in columns:
        table.add_column(column, justify="left" if column == "page" else "right")
    for page in PAGES:
        clear_streamlit_caches()
        first = render_seconds(VIEWS / f"{page}.py")
        warm = statistics.median(render_seconds(VIEWS / f"{page}.py") for _ in range(runs))
        net = max(first - baseline, 0.0)
        table.add_row(page, f"{first:.2f}", f"{warm:.2f}", f"{net:.2f}", "met" if net < GOAL_S else "MISSED")
    console.print(table)
    console.print(
        f"AppTest runs an empty script in {baseline:.2f} s here (median of {runs}); the goal is read on the "
        "page's own time. Load on this machine shows in every figure: compare runs side by side."
    )
