"""The FastAPI app every HTTP function is built from: errors, metrics and docs the same way everywhere."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.config import get_settings
from shared.errors import FunctionError, PayloadTooLarge, outage
from shared.function_spec import LIVENESS_PATH, PROBE_ROUTE_NAME, READINESS_PATH, FunctionSpec
from shared.metrics import LATENCY, REQUESTS, child
from shared.services import Services
from shared.web.metrics import metrics_response

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


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413 before anything reads it into memory.

    A declared Content-Length over the limit is refused at once; a chunked body is counted as it
    streams and refused at the first chunk past the limit. Pure ASGI, like RequestMetrics.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _error_response(PayloadTooLarge(self._message()))(scope, receive, send)
            return
        received = 0
        refused = False

        async def counting_receive() -> Message:
            # Past the limit the 413 goes out at once and the app sees the client gone: raising here
            # would reach FastAPI's body parser, which answers any error while reading with a 400.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    await _error_response(PayloadTooLarge(self._message()))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def send_unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, send_unless_refused)

    def _message(self) -> str:
        return f"the request body is over {self.limit} bytes (MAX_REQUEST_BODY_BYTES)"


class ErrorBody(BaseModel):
    """Every error a function answers: one readable message."""

    detail: str


# Documented on every route: what any function may answer besides its own success and 404s.
COMMON_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON"},
    413: {"model": ErrorBody, "description": "The body is over MAX_REQUEST_BODY_BYTES"},
    422: {"model": ErrorBody, "description": "The request cannot work as given"},
    500: {"model": ErrorBody, "description": "A bug: the message carries an error id found in the logs"},
    503: {
        "model": ErrorBody,
        "description": "A dependency is unavailable; retry after the Retry-After header's seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    },
}


def _error_response(error: FunctionError) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=error.status_code, headers=error.headers())


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{location}: {error.get('msg')}" if location else str(error.get("msg")))
    return "; ".join(parts)


def _serving() -> dict[str, str]:
    return {"status": "ok"}


@asynccontextmanager
async def services_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's services for its lifetime: its own when it runs alone (a Knative Service), built from
    the environment and closed at shutdown (the prediction log flushed, connections closed); the
    host's when a server hosting several functions put one on app.state first (shared/web/local.py)."""
    if app.state.services is not None:
        yield
        return
    app.state.services = Services.from_environment()
    try:
        yield
    finally:
        services, app.state.services = app.state.services, None
        await services.aclose()


def create_function_app(spec: FunctionSpec, routers: Sequence[APIRouter]) -> FastAPI:
    app = FastAPI(
        title=f"time2bet {spec.name}",
        description=spec.description,
        docs_url=f"/docs/{spec.name}",
        openapi_url=f"/openapi/{spec.name}.json",
        redoc_url=None,
        lifespan=services_lifespan,
    )
    app.state.spec = spec
    app.state.services = None
    for router in routers:
        app.include_router(router, responses=COMMON_ERROR_RESPONSES)
    declared = {getattr(route, "path", None) for route in app.router.routes}
    for path in (LIVENESS_PATH, READINESS_PATH):
        if path not in declared:  # the health function declares its own, with dependency checks
            app.add_api_route(path, _serving, methods=["GET"], name=PROBE_ROUTE_NAME, include_in_schema=False)

    app.add_api_route("/metrics", metrics_response, methods=["GET"], include_in_schema=False)

    app.add_middleware(BodyLimit, limit=get_settings().max_request_body_bytes)
    app.add_middleware(RequestMetrics, function=spec.name, routes_of=app)  # outermost: counts the 413s too

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return JSONResponse({"detail": f"the body is not valid JSON: {_validation_message(exc)}"}, 400)
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(FunctionError)
    async def function_error(_request: Request, exc: FunctionError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        unavailable = outage(exc)
        if unavailable is not None:
            log.warning("%s %s: %s (%s)", request.method, request.url.path, unavailable, exc)
            return _error_response(unavailable)
        error_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error (id {error_id}); the function logged the cause"}, status_code=500
        )

    app.openapi = lambda: _openapi_with_error_schema(app)  # type: ignore[method-assign]
    return app


_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_FASTAPI_VALIDATION_BODY = "#/components/schemas/HTTPValidationError"


def _openapi_with_error_schema(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents its own 422 body (`detail` as a list) and none for a bare `{404: {}}`; every
    error a function answers is an ErrorBody, so the contract says so."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for code, response in operation.get("responses", {}).items():
                    declared = response.get("content", {}).get("application/json", {}).get("schema", {})
                    if code[0] in "45" and declared.get("$ref", _FASTAPI_VALIDATION_BODY) == _FASTAPI_VALIDATION_BODY:
                        response["content"] = _ERROR_BODY
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        components["ErrorBody"] = ErrorBody.model_json_schema()
        app.openapi_schema = schema
    return app.openapi_schema
