"""`t2b ui`: the Streamlit web app (ui/) in the foreground, pointed at the HTTP functions."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import typer

from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
DEFAULT_PORT = 8501  # Streamlit's own default, beside the functions' 8080


def ui_url(host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> str:
    return f"http://{host}:{port}"


def default_api_url() -> str:
    """T2B_API_URL, else the local runtime `t2b up` serves."""
    settings = get_settings()
    return os.environ.get("T2B_API_URL") or f"http://{settings.serve_host}:{settings.serve_port}"


def streamlit_command(app: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        f"--server.address={host}", f"--server.port={port}",
        "--server.headless=true", "--browser.gatherUsageStats=false",
    ]  # fmt: skip


def ui_command(
    host: str = typer.Option("127.0.0.1", help="Interface the web app binds."),
    port: int = typer.Option(DEFAULT_PORT, help="Port of the web app."),
    api_url: str = typer.Option(None, help="The HTTP functions (default T2B_API_URL, else the local runtime)."),
) -> None:
    """Run the web app (Predict, Fixtures, Async batch, Tables, Model, Status) until Ctrl-C."""
    if importlib.util.find_spec("streamlit") is None:
        raise CommandError("streamlit is not installed: pip install -r requirements/ui.txt", ExitCode.BAD_INPUT)
    target = api_url or default_api_url()
    typer.echo(f"web app on {ui_url(host, port)} (API: {target}); Ctrl-C stops it")
    try:
        code = subprocess.call(streamlit_command(APP, host, port), env={**os.environ, "T2B_API_URL": target})
    except KeyboardInterrupt:
        return
    if code not in (0, -2):  # -2: stopped by Ctrl-C
        raise CommandError(f"streamlit exited with {code}")
