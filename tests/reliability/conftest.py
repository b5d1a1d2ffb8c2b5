"""Fixtures of the fault matrix: private instances of real services that a test may stop.

The machine's own PostgreSQL, Redis and RabbitMQ and the session's MLflow and S3 servers are never
touched: each outage is played on an instance started here, in a temporary directory, and stopped
through its own PID (file).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.db import migrate
from tests.mlflow_fixtures import start_mlflow
from tests.services import free_port, listening, require, start_moto, stop_process, wait_for_port


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    port: int
    data_dir: Path
    bin_dir: Path
    as_user: list[str]  # root cannot run PostgreSQL: commands go through `runuser -u postgres`

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("start", "-w", "-l", str(self.data_dir / "server.log"), "-o", options)
        wait_for_port(self.port, timeout=30)

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop this cluster at once (its postmaster PID from its own data directory)."""
        self.pg_ctl("stop", "-m", "immediate", "-w")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own (initdb in a temp dir, its own port), migrated."""
    bin_dir = _postgres_bin()
    require(bin_dir is not None, "PostgreSQL server binaries (initdb) are not installed")
    assert bin_dir is not None
    # Not under pytest's tmp_path: as root, the server runs as `postgres`, which cannot enter root's 0700 dirs.
    data_dir = Path(tempfile.mkdtemp(prefix="t2b-pg-")) / "pgdata"
    data_dir.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (data_dir.parent, data_dir):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = PrivatePostgres(free_port(), data_dir, bin_dir, as_user)
    cluster.start()
    migrate.upgrade(cluster.url)
    yield cluster
    if (data_dir / "postmaster.pid").exists():
        cluster.stop()
    shutil.rmtree(data_dir.parent, ignore_errors=True)


@dataclass
class PrivateServer:
    """A server process of the test's own on a port of its own: `stop()` ends that process (its PID)
    and returns once nothing listens there; `start()` starts it again on the same port."""

    port: int
    launch: Callable[[], subprocess.Popen]
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = self.launch()

    def stop(self) -> None:
        assert self.process is not None
        stop_process(self.process)
        self.process = None
        # a child serving the port (MLflow's uvicorn) may outlive its parent by a moment
        deadline = time.monotonic() + 30
        while listening("127.0.0.1", self.port, 0.2):
            assert time.monotonic() < deadline, f"port {self.port} still answers after its server stopped"
            time.sleep(0.1)


@pytest.fixture
def private_server() -> Iterator[Callable[[Callable[[int], subprocess.Popen]], PrivateServer]]:
    """`private_server(launch)`: a server started by `launch(port)` on a free port, stopped after the test."""
    started: list[PrivateServer] = []

    def start(launch: Callable[[int], subprocess.Popen]) -> PrivateServer:
        port = free_port()
        server = PrivateServer(port, lambda: launch(port))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process is not None:
            server.stop()


@pytest.fixture
def private_mlflow(tmp_path: Path, private_server) -> PrivateServer:
    """An MLflow server of the test's own; its registry (SQLite, artifacts under tmp_path) outlives a restart."""
    root = tmp_path / "mlflow"
    root.mkdir()
    return private_server(lambda port: start_mlflow(root, port))


@pytest.fixture
def private_s3(tmp_path: Path, private_server) -> PrivateServer:
    """An S3 server (moto) of the test's own: the session's `s3_endpoint` serves every other test."""
    return private_server(lambda port: start_moto(port, tmp_path / "moto.log"))
