"""Failures a caller can act on, each carrying its answer — the way kserve's `errors.py` and MLServer's
`errors.py` do.

HTTP functions answer a `FunctionError` with its status (the handlers are registered once, in the app
factory); event functions retry exactly the failures that are `retryable`; the CLI maps outages to its
temporary exit code. An outage of a backing service (store, cache, broker, object store, registry) is
recognised by `outage()` wherever it is raised, so no endpoint has to catch it.
"""

from __future__ import annotations

from typing import ClassVar

DEFAULT_RETRY_AFTER_SECONDS = 30


class FunctionError(Exception):
    """A failure with a known answer; `str(error)` is the message the caller sees."""

    status_code: ClassVar[int] = 500
    retryable: ClassVar[bool] = False

    def headers(self) -> dict[str, str]:
        return {}


class InvalidInput(FunctionError, ValueError):
    """The request cannot work as given (an unknown team, the same team twice): 422."""

    status_code = 422


class Unauthenticated(FunctionError):
    """The request carries no valid credentials: 401, with the scheme to use."""

    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(FunctionError):
    """The caller is known but may not do this: 403."""

    status_code = 403


class NotFound(FunctionError, LookupError):
    """What the request names does not exist: 404."""

    status_code = 404


class PayloadTooLarge(FunctionError):
    """The request body is over the function's limit: 413, refused before it is parsed."""

    status_code = 413


class Unavailable(FunctionError):
    """A dependency is down or not ready: 503 with Retry-After; the same request may work later."""

    status_code = 503
    retryable = True

    def __init__(self, message: str, retry_after_seconds: int = DEFAULT_RETRY_AFTER_SECONDS) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


def outage(exc: BaseException) -> Unavailable | None:
    """The Unavailable an exception of a backing service's client stands for; None for anything else.

    Its message names the service, never the client's text: that can carry hosts, users and URLs
    callers have no business seeing (the caller logs the cause)."""
    if isinstance(exc, Unavailable):
        return exc
    for kind, what in _outage_kinds():
        if isinstance(exc, kind):
            return Unavailable(f"{what} is unavailable; retry later")
    return None


def _outage_kinds() -> list[tuple[tuple[type[BaseException], ...], str]]:
    # Imported when an error happens, not at start-up: every function pays for these clients only then,
    # and an image without one of them (the events image has no minio) still classifies the rest.
    kinds: list[tuple[tuple[type[BaseException], ...], str]] = []
    try:
        from sqlalchemy.exc import InterfaceError, OperationalError

        kinds.append(((OperationalError, InterfaceError), "the store"))
    except ImportError:
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        kinds.append(((RedisConnectionError, RedisTimeoutError), "Redis"))
    except ImportError:
        pass
    try:
        from urllib3.exceptions import HTTPError as Urllib3Error

        kinds.append(((Urllib3Error,), "the object store"))  # minio's transport
    except ImportError:
        pass
    try:
        from requests.exceptions import ConnectionError as RequestsConnectionError
        from requests.exceptions import Timeout as RequestsTimeout

        kinds.append(((RequestsConnectionError, RequestsTimeout), "a service"))  # MLflow's REST client
    except ImportError:
        pass
    kinds.append(((ConnectionError, TimeoutError), "a service"))
    return kinds
