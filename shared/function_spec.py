"""What a function declares about itself, once: its kind, routes or subscriptions, image, scaling and
launch command. Knative Services and Triggers, the local runtimes and the test helpers read it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Every function answers these (Knative's probes): the health function with its dependency checks,
# every other one as soon as its process serves (a store outage is answered per request with a 503).
LIVENESS_PATH = "/health"
READINESS_PATH = "/health/ready"
PROBE_ROUTE_NAME = "t2b_probe"  # the generic answer; the local runtime routes these paths to `health`


class Resources(BaseModel):
    cpu: str = "250m"
    memory: str = "256Mi"
    cpu_limit: str = "1"
    memory_limit: str = "512Mi"


class Scaling(BaseModel):
    min_scale: int = Field(default=0, ge=0)  # scale to zero
    max_scale: int = Field(default=10, ge=1)
    target_concurrency: int = Field(default=50, ge=1)
    # Knative's hard cap of requests in flight per pod (0 = none: the target alone drives scaling);
    # functions that must work one request at a time say 1.
    container_concurrency: int = Field(default=0, ge=0, le=1000)


class Triggers(BaseModel):
    """How an event function is subscribed: one Knative Trigger per event type, all with this delivery.

    The broker of each Trigger is the one the contract publishes that type to. A failed delivery is
    retried `retry` times (backoff delay x 2^n or x n), then sent to the dead-letter sink Service.
    """

    parallelism: int = Field(default=1, ge=1, le=1000)  # events dispatched at once; 1 keeps the queue FIFO
    retry: int = Field(default=3, ge=0)
    backoff_policy: Literal["exponential", "linear"] = "exponential"
    backoff_delay: str = Field(default="PT0.5S", pattern=r"^PT[0-9.]+[HMS]$")
    dead_letter_sink: str | None = "dead-letter"
    # also the PingSource pings standing for one of the event types (their ceOverrides extension)
    on_schedule: bool = False


class FunctionSpec(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,40}$")  # the Knative Service name
    kind: Literal["http", "event"]
    description: str
    queue: Literal["api", "ml"]
    routes: list[str] = Field(default_factory=list, description="HTTP paths, for kind http")
    event_types: list[str] = Field(default_factory=list, description="CloudEvent types, for kind event")
    triggers: Triggers | None = Field(default=None, description="its subscriptions; None: no Trigger delivers to it")
    requirements: str = Field(default="base", description="requirements/<set>.txt its image installs")
    resources: Resources = Field(default_factory=Resources)
    scaling: Scaling = Field(default_factory=Scaling)
    # request timeout of the Knative revision (its maximum is 600 s unless the cluster raises it)
    timeout_seconds: int = Field(default=60, ge=1, le=600)

    @property
    def module(self) -> str:
        return f"functions.{self.name.replace('-', '_')}.main"

    def launch_command(self, host: str = "0.0.0.0", port: int = 8080, source_root: str = "") -> list[str]:
        """The command serving this function, as the container and the local runtimes run it: uvicorn with
        the module's `app` (FastAPI for HTTP, functions-framework's ASGI app for CloudEvents). The first word
        is the program's name: a caller may resolve it to a path (shared.processes.beside_python) or run
        `python -m <it>`; `source_root` is where the `functions` package lies, when not on the path."""
        # no function speaks WebSocket: without --ws none uvicorn imports a WebSocket implementation on
        # every cold start (about 30 ms of CPU, #19)
        command = ["uvicorn", f"{self.module}:app", "--host", host, "--port", str(port), "--ws", "none"]
        return [*command, "--app-dir", source_root] if source_root else command
