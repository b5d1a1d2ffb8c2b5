"""`t2b serve`: every HTTP function on one port, each at its own real paths."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from shared.config import get_settings

KNATIVE_BASE = Path(__file__).resolve().parents[2] / "knative" / "base"


def serve_command(
    host: str = typer.Option(None, help="Interface to bind (default T2B_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default T2B_PORT or 8080)."),
) -> None:
    """Serve all HTTP functions for development; in production each is its own Knative Service."""
    settings = get_settings()
    uvicorn.run(
        "shared.runtime.functions:create_local_server",
        factory=True,
        host=host or settings.serve_host,
        port=port or settings.serve_port,
        log_level="info",
    )


def manifests_command(
    folder: Path = typer.Option(KNATIVE_BASE / "services", help="Where the Service manifests go."),
    triggers: Path = typer.Option(KNATIVE_BASE / "eventing" / "triggers.yaml", help="Where the Triggers go."),
) -> None:
    """Render one Knative Service per function, and the event functions' Triggers, from their SPECs."""
    from shared.events.routing import load_routing
    from shared.events.triggers import render_triggers
    from shared.runtime.functions import discover_functions
    from shared.web.manifests import write_all

    specs = [f.spec for f in discover_functions()]
    triggers.write_text(render_triggers(specs))
    typer.echo(triggers)
    # the Services name their senders: the Triggers just written, beside the Brokers
    for path in write_all(specs, folder, load_routing(triggers.parent)):
        typer.echo(path)
