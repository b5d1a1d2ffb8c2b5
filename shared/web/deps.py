"""FastAPI dependencies: the functions ask for what they need, tests override it."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from shared.config import Settings, get_settings
from shared.db.session import get_engine
from shared.storage import ObjectStore, get_store


def settings() -> Settings:
    return get_settings()


def db_session() -> Iterator[Session]:
    """A read-mostly session per request; writers open their own transactions."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def object_store() -> ObjectStore:
    return get_store()
