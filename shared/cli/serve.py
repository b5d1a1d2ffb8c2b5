"""`t2b serve`: every HTTP function on one port, each at its own real paths."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from shared.config import get_settings

REPO = Path(__file__).resolve().parents[2]


def serve_command(
    host: str = typer.Option(None, help="Interface to bind (default T2B_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default T2B_PORT or 8080)."),
) -> None:
    """Serve all HTTP functions for development; in production each is its own Knative Service."""
    settings = get_settings()
    uvicorn.run(
        "shared.web.local:create_local_server",
        factory=True,
        host=host or settings.serve_host,
        port=port or settings.serve_port,
        log_level="info",
    )


def manifests_command(
    folder: Path = typer.Option(REPO / "knative" / "base" / "services", help="Where the Service manifests go."),
) -> None:
    """Render one Knative Service per function from its SPEC."""
    from shared.web.local import discover_functions
    from shared.web.manifests import write_all

    for path in write_all([f.spec for f in discover_functions()], folder):
        typer.echo(path)
