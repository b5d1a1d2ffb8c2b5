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

from shared.metrics import LATENCY, REQUESTS, exposition
from shared.web.spec import FunctionSpec

log = logging.getLogger("time2bet.http")


def _route_template(app: FastAPI, request: Request) -> str:
    """The route's path template, so that /predict/1 and /predict/2 are one metric series."""
    for route in app.router.routes:
        if route.matches(request.scope)[0] == Match.FULL:
            return getattr(route, "path", request.url.path)
    return "unmatched"


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

    @app.middleware("http")
    async def record(request: Request, call_next):
        started = time.perf_counter()
        route = _route_template(app, request)
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            if route != "/metrics":
                REQUESTS.labels(spec.name, route, request.method, str(status)).inc()
                LATENCY.labels(spec.name, route).observe(time.perf_counter() - started)

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
