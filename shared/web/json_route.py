"""A FastAPI route for the hot path: a JSON body model and the process's services, nothing else.

Profiled in-process (cProfile, 3,000 POST /predict misses, #19): FastAPI's request handler spent more
time than the data plane itself. Per request it solves the dependency tree (`solve_dependencies`,
20% of the request), checks the content type through the email package, parses the body with
`json.loads` and validates the dict in a second step. This route keeps FastAPI's declaration of the
endpoint (OpenAPI, docs, response model, `dependency_overrides`) and answers the common case itself:

- the body is `application/json` and validates in one step (`model_validate_json`, pydantic-core);
- the only dependency is `get_services`, or an override of it that takes no arguments (as tests
  install).

Anything else goes to FastAPI's own handler, built from the same route: a body that does not
validate, another content type, an override with parameters of its own. So every error is FastAPI's
answer byte for byte, and an answer is the endpoint's own (tests/web/test_json_route.py compares both
paths on the same requests).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from shared.web.deps import get_services

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ServicesAndJSONBody:
    """What the fast path passes the endpoint: the body model's parameter and the services' parameter."""

    def __init__(self, route: APIRoute) -> None:
        dependant = route.dependant
        bodies = dependant.body_params
        services = [d for d in dependant.dependencies if d.call is get_services]
        plain = (
            len(bodies) == 1
            and isinstance(bodies[0].field_info.annotation, type)
            and issubclass(bodies[0].field_info.annotation, BaseModel)
            and len(services) == 1
            and len(dependant.dependencies) == 1
            and not (dependant.path_params or dependant.query_params or dependant.header_params)
            and not (dependant.cookie_params or dependant.request_param_name or dependant.response_param_name)
            and not route.dependencies
        )
        if not plain:
            raise TypeError(f"{route.path}: JSONBodyRoute serves endpoints of a JSON body model and get_services only")
        self.body_name = bodies[0].name
        self.body_model: type[BaseModel] = bodies[0].field_info.annotation
        self.services_name = services[0].name


@functools.cache
def _takes_no_arguments(call: Callable[..., Any]) -> bool:
    return not inspect.signature(call).parameters


class JSONBodyRoute(APIRoute):
    """Use as `APIRouter(route_class=JSONBodyRoute)` for endpoints shaped
    `async def endpoint(body: SomeModel, services: Services = Depends(get_services)) -> Response`.
    Include its router without dependencies of its own: the fast path would not run them."""

    def get_route_handler(self) -> Handler:
        plain = super().get_route_handler()
        shape = ServicesAndJSONBody(self)
        endpoint = self.endpoint
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError(f"{self.path}: JSONBodyRoute serves async endpoints that return a Response")

        async def handler(request: Request) -> Response:
            if request.headers.get("content-type") != "application/json":
                return await plain(request)
            override = request.app.dependency_overrides.get(get_services)
            if override is not None and not _takes_no_arguments(override):
                return await plain(request)
            try:
                body = shape.body_model.model_validate_json(await request.body())
            except ValidationError:
                return await plain(request)  # FastAPI reads the cached body and answers its own 400/422
            if override is None:
                services = await get_services(request)
            else:
                services = override()
                if inspect.isawaitable(services):
                    services = await services
            return await endpoint(**{shape.body_name: body, shape.services_name: services})

        return handler
