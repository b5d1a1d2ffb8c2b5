"""The no-op subscriber of `t2b bench events`: answers 202 to every CloudEvent POST and counts them.

A bare ASGI app under uvicorn (httptools, uvloop), so the figure is the event path's cost and not a
web framework's. GET answers the count so far.

    python -m uvicorn shared.bench.events_sink:app --lifespan off --port PORT
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
received = 0


async def app(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    global received
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    if scope["method"] == "POST":
        received += 1
        await _answer(send, 202, b"")
    else:
        await _answer(send, 200, str(received).encode())


async def _answer(send: Callable[[Message], Awaitable[None]], status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
