from __future__ import annotations

from sqlalchemy import inspect

from shared.db import migrate
from shared.db.models import Base
from shared.db.session import get_engine


def test_migrations_build_the_model_schema_and_downgrade_cleanly(db_url: str) -> None:
    engine = get_engine(db_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    migrate.downgrade(db_url, "base")
    assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    migrate.upgrade(db_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_models_and_migrations_agree(sqlite_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with get_engine(sqlite_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], "a model changed without a migration: run alembic revision --autogenerate"
