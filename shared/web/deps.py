"""FastAPI dependencies: the functions ask for what they need, tests override `get_services`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import Depends, Request

from shared.config import Settings
from shared.services import Services

if TYPE_CHECKING:  # SQLAlchemy (16 MB resident) loads with the first session: fixtures and lookups open none
    from sqlalchemy.orm import Session


class ServicesMissing(RuntimeError):
    """An app asked for its services outside its lifespan (and no test override gave it any)."""


async def get_services(request: Request) -> Services:
    """The process's services, which the app's lifespan (or the server hosting the app) put on app.state.
    Async: a plain function dependency would hop to a worker thread on every request."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ServicesMissing(f"{request.app.title} is served without its lifespan: no services")
    return services


def settings(services: Services = Depends(get_services)) -> Settings:
    return services.settings


def db_session(services: Services = Depends(get_services)) -> Iterator[Session]:
    """A read-mostly session per request; writers open their own transactions."""
    from sqlalchemy.orm import Session

    with Session(services.engine, expire_on_commit=False) as session:
        yield session
