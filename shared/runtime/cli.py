"""`t2b up`: the local runtime in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from shared.cli.errors import CommandError, ExitCode
from shared.config import get_settings
from shared.runtime.function_processes import FunctionStartError
from shared.runtime.local import LocalRuntime, RuntimeOptions, RuntimeStartError

SUPERVISE_INTERVAL_SECONDS = 1.0


def up_command(
    host: str = typer.Option(None, help="Interface to bind (default T2B_HOST or 127.0.0.1)."),
    port: int = typer.Option(None, help="Port of the HTTP functions (default T2B_PORT or 8080)."),
    ping_now: bool = typer.Option(False, "--ping-now", help="Fire every PingSource schedule once at start-up."),
) -> None:
    """Run everything on one machine: HTTP functions, event functions behind the bus, PingSource schedules."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pika logs every connection step at INFO and a failed connect at ERROR with a traceback before it
    # raises; the runtime reports that raised error once, in one line naming host:port.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    settings = get_settings()
    if settings.amqp_url and not settings.redis_url:
        # Over RabbitMQ, `infer` runs in its own process: a job it finishes must be visible to task-status.
        raise CommandError(
            "AMQP_URL is set without REDIS_URL: async prediction jobs are shared between processes through "
            "Redis; set REDIS_URL, or unset AMQP_URL to use the in-process bus",
            ExitCode.BAD_INPUT,
        )
    runtime = LocalRuntime(RuntimeOptions(host or settings.serve_host, port or settings.serve_port, ping_now))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    failure: str | None = None
    try:
        runtime.start()
        while not stop.wait(SUPERVISE_INTERVAL_SECONDS) and failure is None:
            failure = runtime.failure()
    except (RuntimeStartError, FunctionStartError) as error:
        raise CommandError(str(error)) from None
    finally:
        runtime.stop()
    if failure is not None:
        raise CommandError(failure)
