"""Every HTTP function on one port, each answering its own real paths (as behind the production ingress)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import ModuleType

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

import functions
from shared.metrics import exposition
from shared.web.spec import FunctionSpec


@dataclass(frozen=True)
class LoadedFunction:
    spec: FunctionSpec
    module: ModuleType


def discover_functions() -> list[LoadedFunction]:
    """Import functions/<name>/main.py for every function folder, in name order."""
    loaded = []
    for info in sorted(pkgutil.iter_modules(functions.__path__), key=lambda i: i.name):
        if info.ispkg:
            module = importlib.import_module(f"functions.{info.name}.main")
            loaded.append(LoadedFunction(module.SPEC, module))
    return loaded


def http_apps(loaded: Iterable[LoadedFunction]) -> dict[str, FastAPI]:
    return {f.spec.name: f.module.app for f in loaded if f.spec.kind == "http"}


class LocalServer:
    """An ASGI app that hands each request to the function whose routes match it."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.apps = apps

    def _match(self, scope: Scope) -> FastAPI | None:
        partial = None
        for app in self.apps.values():
            for route in app.router.routes:
                match, _ = route.matches(scope)
                if match == Match.FULL and getattr(route, "path", "") != "/metrics":
                    return app
                if match == Match.PARTIAL and partial is None:
                    partial = app  # right path, other method: let that app answer 405
        return partial

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] == "/metrics":
            body, content_type = exposition()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type.encode())]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        app = self._match(scope)
        if app is None:
            body = b'{"detail":"no function serves this path; see /docs/<function>"}'
            await send(
                {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        async with AsyncExitStack() as stack:
            message = await receive()
            assert message["type"] == "lifespan.startup"
            try:
                for app in self.apps.values():
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})


def create_local_server() -> LocalServer:
    return LocalServer(http_apps(discover_functions()))
