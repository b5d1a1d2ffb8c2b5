"""GET /metrics of every function process, HTTP and event functions alike: Prometheus' text format."""

from starlette.requests import Request
from starlette.responses import Response

from shared.metrics import exposition


def metrics_response(_: Request) -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)
