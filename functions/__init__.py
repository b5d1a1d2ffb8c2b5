"""One package per function; each `main.py` declares `SPEC` and exposes `app` (HTTP) or a handler (events)."""
