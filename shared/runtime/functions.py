"""The functions a process hosts, found by package name: `shared` never imports `functions` itself.

The local runtimes (`t2b up`, `t2b serve`), `t2b manifests` and the benchmarks ask here; the package
is FUNCTIONS_PACKAGE (default `functions`), one sub-package per function with a `main.py` declaring
`SPEC` and exposing `app` (FastAPI for HTTP; for CloudEvents functions-framework's ASGI app around `handle`,
beside `task`, the EventTask the in-process bus calls).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

from fastapi import FastAPI

from shared.events.bus import EventHandler
from shared.function_spec import FunctionSpec
from shared.services import Services
from shared.web.local import LocalServer

FUNCTIONS_PACKAGE = "functions"


@dataclass(frozen=True)
class LoadedFunction:
    spec: FunctionSpec
    module: ModuleType


def discover_functions(package: str = FUNCTIONS_PACKAGE) -> list[LoadedFunction]:
    """Import <package>/<name>/main.py for every function folder, in name order."""
    root = importlib.import_module(package)
    loaded = []
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if info.ispkg:
            module = importlib.import_module(f"{package}.{info.name}.main")
            loaded.append(LoadedFunction(module.SPEC, module))
    return loaded


def http_apps(loaded: Iterable[LoadedFunction]) -> dict[str, FastAPI]:
    return {f.spec.name: f.module.app for f in loaded if f.spec.kind == "http"}


def event_handlers(loaded: Iterable[LoadedFunction], services: Services) -> dict[str, EventHandler]:
    """Knative Service name → the CloudEvent handler of every event function, working with `services`."""
    return {f.spec.name: f.module.task.bound(services) for f in loaded if f.spec.kind == "event"}


def host_functions(loaded: Iterable[LoadedFunction], services: Services, *, owns_services: bool) -> LocalServer:
    """One process hosting every function on one `services`: HTTP apps on one port, event handlers
    behind the in-process bus (used when AMQP_URL is not set)."""
    loaded = list(loaded)
    services.host_event_functions(event_handlers(loaded, services))
    return LocalServer(http_apps(loaded), services, owns_services=owns_services)


def create_local_server() -> LocalServer:
    """uvicorn's factory for `t2b serve`: every function in this interpreter, on services it owns
    (predict's process-wide collector tuning is not for a shared interpreter)."""
    return host_functions(discover_functions(), Services.from_environment(shares_interpreter=True), owns_services=True)
