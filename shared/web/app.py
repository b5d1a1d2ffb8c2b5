"""The FastAPI app every HTTP function is built from: errors, metrics and docs the same way everywhere."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import LATENCY, REQUESTS, child, exposition
from shared.web.spec import FunctionSpec

log = logging.getLogger("time2bet.http")


def _route_template(app: FastAPI, scope: Scope) -> str:
    """The route's path template, so that /predict/1 and /predict/2 are one metric series.

    The router records the route it chose in the scope; FastAPI wraps included routers in objects
    without a `path`, so scanning `app.router.routes` found no template (it labelled /predict/1 and
    /predict/2 apart) and is only the fallback for a request that never reached the router.
    """
    route = scope.get("route")
    if route is None:
        for candidate in app.router.routes:
            if candidate.matches(scope)[0] == Match.FULL:
                route = candidate
                break
        else:
            return "unmatched"
    return getattr(route, "path", None) or "unmatched"


class RequestMetrics:
    """Requests and latency by function, route template, method and status.

    A pure ASGI middleware: `@app.middleware("http")` (BaseHTTPMiddleware) runs the rest of the app
    in a task of its own and streams the response through a memory channel, a per-request cost that
    shows under concurrency; this only wraps `send` to read the status.
    """

    def __init__(self, app: ASGIApp, function: str, routes_of: FastAPI) -> None:
        self.app = app
        self.function = function
        self.routes_of = routes_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaping the app becomes a 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = _route_template(self.routes_of, scope)  # after routing: the scope names the route
            if route != "/metrics":
                child(REQUESTS, self.function, route, scope["method"], str(status)).inc()
                child(LATENCY, self.function, route).observe(time.perf_counter() - started)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{location}: {error.get('msg')}" if location else str(error.get("msg")))
    return "; ".join(parts)


def create_function_app(
    spec: FunctionSpec,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    app = FastAPI(
        title=f"time2bet {spec.name}",
        description=spec.description,
        docs_url=f"/docs/{spec.name}",
        openapi_url=f"/openapi/{spec.name}.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.spec = spec
    for router in routers:
        app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    app.add_middleware(RequestMetrics, function=spec.name, routes_of=app)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error (id {error_id}); the function logged the cause"}, status_code=500
        )

    return app
