from __future__ import annotations

from pathlib import Path

from shared.config import Settings, get_settings
from shared.storage import LocalObjectStore, get_store


def test_embedded_defaults_need_no_server(configure, tmp_path: Path) -> None:
    configure()
    settings = get_settings()
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'var' / 'time2bet.db').resolve()}"
    assert settings.resolved_mlflow_tracking_uri.startswith("sqlite:///")
    assert settings.redis_url is None and settings.amqp_url is None
    assert isinstance(get_store(), LocalObjectStore)


def test_postgres_urls_use_psycopg3(configure) -> None:
    configure(DATABASE_URL="postgres://u@db:5432/t2b")
    assert get_settings().resolved_database_url == "postgresql+psycopg://u@db:5432/t2b"


def test_secrets_are_not_printed() -> None:
    settings = Settings(S3_SECRET_KEY="hunter2")
    assert "hunter2" not in repr(settings)
