from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

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


@pytest.mark.parametrize("endpoint", ["minio.ds.svc:9000", "https://s3.example.com", "http://10.0.0.7:9000"])
def test_default_s3_keys_are_refused_off_this_machine(endpoint: str) -> None:
    with pytest.raises(ValidationError, match="MinIO's defaults") as error:
        Settings(S3_ENDPOINT=endpoint, S3_SECRET_KEY="a-real-secret")
    assert "a-real-secret" not in str(error.value)
    Settings(S3_ENDPOINT=endpoint, S3_ACCESS_KEY="team", S3_SECRET_KEY="a-real-secret")  # real keys: accepted


@pytest.mark.parametrize("endpoint", ["127.0.0.1:9000", "http://localhost:9000", "http://[::1]:9000"])
def test_default_s3_keys_are_fine_on_loopback(endpoint: str) -> None:
    assert Settings(S3_ENDPOINT=endpoint).s3_access_key == "minioadmin"


def test_a_blank_variable_means_the_embedded_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "")
    monkeypatch.setenv("AMQP_URL", "")
    assert (Settings().redis_url, Settings().amqp_url) == (None, None)
