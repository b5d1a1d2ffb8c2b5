"""Every HTTP function on one port, each answering its own real paths (as behind the production ingress),
all of them on the one `Services` of the process."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from shared.function_spec import PROBE_ROUTE_NAME
from shared.metrics import exposition
from shared.services import Services


class LocalServer:
    """An ASGI app that hands each request to the function whose routes match it.

    Its lifespan gives every app `services` for theirs (they then build none of their own) and, when
    `owns_services`, closes them at shutdown; otherwise whoever built them closes them (`t2b up`).
    """

    def __init__(self, apps: dict[str, FastAPI], services: Services, *, owns_services: bool) -> None:
        self.apps = apps
        self.services = services
        self.owns_services = owns_services

    def _match(self, scope: Scope) -> FastAPI | None:
        partial = None
        for app in self.apps.values():
            for route in app.router.routes:
                match, _ = route.matches(scope)
                if getattr(route, "name", "") == PROBE_ROUTE_NAME:
                    continue  # every app has the generic probes; /health* goes to the health function
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
        try:
            async with AsyncExitStack() as stack:
                message = await receive()
                assert message["type"] == "lifespan.startup"
                try:
                    for app in self.apps.values():
                        app.state.services = self.services
                        await stack.enter_async_context(app.router.lifespan_context(app))
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
        finally:
            for app in self.apps.values():
                app.state.services = None
            if self.owns_services:
                await self.services.aclose()
        await send({"type": "lifespan.shutdown.complete"})
