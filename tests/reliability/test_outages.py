"""The fault matrix, store column: with PostgreSQL stopped under them, the functions answer 503 with
Retry-After (never 500), and answer again once it is back. The PostgreSQL is a private cluster this
test starts and stops (see conftest.py); the machine's own is never touched."""

from __future__ import annotations

import importlib

import pytest

from tests.reliability.conftest import PrivatePostgres

SECRET = "pg-s3cr3t-pw"
STORE_READS = [
    ("stats", "/stats?league=E0"),
    ("sources", "/sources"),
    ("livescores", "/livescores"),
    ("health", "/health/ready"),
]


@pytest.mark.postgres
def test_store_reads_answer_503_while_postgres_is_down_and_recover(
    private_postgres: PrivatePostgres, configure, caplog: pytest.LogCaptureFixture, client_for
) -> None:
    # The cluster trusts loopback, so a password is accepted and ignored: it must never be shown.
    configure(DATABASE_URL=private_postgres.url.replace("postgres@", f"postgres:{SECRET}@"))
    clients = {
        name: client_for(importlib.import_module(f"functions.{name}.main").app, raise_server_exceptions=False)
        for name, _ in STORE_READS
    }
    before = {name: clients[name].get(path).status_code for name, path in STORE_READS}
    assert all(status < 500 for status in before.values()), before

    private_postgres.stop()
    for name, path in STORE_READS:
        answer = clients[name].get(path)
        assert answer.status_code == 503, (name, answer.status_code, answer.text)
        assert SECRET not in answer.text
        if name != "health":  # readiness answers its own body: which dependency is down
            assert int(answer.headers["retry-after"]) > 0 and "retry later" in answer.json()["detail"]

    private_postgres.start()
    after = {name: clients[name].get(path).status_code for name, path in STORE_READS}
    assert after == before
    assert caplog.records and SECRET not in caplog.text  # the outage was logged, without the password
