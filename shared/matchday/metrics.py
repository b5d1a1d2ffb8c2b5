"""What the match-day tick costs WhoScored and the browser grid, for Prometheus (the function's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

from shared.events.metrics import _metric

TICKS = _metric(
    Counter,
    "t2b_matchday_ticks",
    "Match-day ticks by outcome: idle (nothing due, no request) | done | blocked | no_browser",
    ("outcome",),
)
WHOSCORED_REQUESTS = _metric(
    Counter,
    "t2b_matchday_whoscored_requests",
    "WhoScored page loads the match-day tick made (retries included), by page: live | preview",
    ("page",),
)
SELENOID_SESSIONS = _metric(
    Counter, "t2b_matchday_selenoid_sessions", "Browser sessions the match-day tick opened on Selenoid", ()
)
CHANGES = _metric(
    Counter,
    "t2b_matchday_changes",
    "What match-day reads stored: live_state | live_unchanged | preview_version | preview_unchanged | rejected",
    ("kind",),
)
